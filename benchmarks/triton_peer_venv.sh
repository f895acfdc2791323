#!/usr/bin/env bash
# The Triton peer's own environment (benchmarks/triton_peer.md), apart from the project's:
#   benchmarks/triton_peer_venv.sh PYTHON312 [VENV (.venv-triton)] [PROJECT_PYTHON (.venv/bin/python)]
# PYTHON312: a Python 3.12 built with --enable-shared (pyenv's is: "$(pyenv root)/versions/3.12.1/bin/python").
# nvidia-pytriton bundles Triton 2.51 and its Python backend stub for that Python; numpy 2 corrupts the
# stub's inputs, so numpy < 2. onnxruntime, OpenVINO and Pillow are pinned to the versions PROJECT_PYTHON
# has, so that both sides run the same runtime and image decoder.
set -euo pipefail
python312=${1:?usage: $0 PYTHON312 [VENV] [PROJECT_PYTHON]}
venv=${2:-.venv-triton}
project_python=${3:-.venv/bin/python}

"$python312" -c 'import sys, sysconfig
assert sys.version_info[:2] == (3, 12), f"Python 3.12 needed, this is {sys.version}"
assert sysconfig.get_config_var("Py_ENABLE_SHARED"), "this Python has no libpython (build it with --enable-shared)"'
version_of() { "$project_python" -c "import importlib.metadata as m; print(m.version('$1'))"; }
runtimes=("onnxruntime==$(version_of onnxruntime)" "openvino==$(version_of openvino)" "pillow==$(version_of pillow)")

"$python312" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet 'nvidia-pytriton==0.7.*' 'numpy<2' opencv-python-headless "${runtimes[@]}"
"$venv/bin/python" -c 'import numpy, onnxruntime, openvino, PIL, cv2, pytriton; print("ready:", numpy.__version__)'
