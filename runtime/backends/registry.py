"""Every runtime backend, named once: the model file it runs and how it is built from the runtime options.

The settings' validation, the command line's choices and the repository loader all read this table, so adding
a backend is one entry here plus its module. Runtimes are imported only when a backend is built.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.model_repo import FP32, INT8, MINDIR_FILE, ONNX_FILE, OPENVINO_IR_FILE
from runtime.backends.base import Backend, BackendError
from runtime.options import AUTO_BACKEND, RuntimeOptions


@dataclass(frozen=True)
class BackendSpec:
    """`model_files` in order of preference: a version is served from the first one its folder holds.
    `default_precisions` in order of preference: a model's default version is the newest ready one of the
    first precision that has one (any precision when none has)."""

    name: str
    model_files: tuple[str, ...]
    build: Callable[[Path, RuntimeOptions], Backend]
    default_precisions: tuple[str, ...] = (FP32,)

    def model_file(self, version_dir: Path) -> str:
        """The file it runs for the version in `version_dir` (the last choice when none is there)."""
        present = [name for name in self.model_files if (Path(version_dir) / name).is_file()]
        return present[0] if present else self.model_files[-1]


def _onnxruntime(path: Path, options: RuntimeOptions) -> Backend:
    from runtime.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, options.backends.onnxruntime)


def _lite(path: Path, options: RuntimeOptions) -> Backend:
    from runtime.backends.lite import LiteBackend

    return LiteBackend(path, options.backends.lite)


def _openvino(path: Path, options: RuntimeOptions) -> Backend:
    from runtime.backends.openvino import OpenVinoBackend

    return OpenVinoBackend(path, options.backends.openvino)


def _mindspore(path: Path, options: RuntimeOptions) -> Backend:
    from runtime.backends.mindspore import MindSporeBackend

    return MindSporeBackend(path, options.backends.mindspore.device_target)


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec("onnxruntime", (ONNX_FILE,), _onnxruntime),
        # onnxruntime runs NNCF's int8 QDQ graphs slower than fp32 on CPU; OpenVINO runs them in int8 kernels.
        BackendSpec("openvino", (OPENVINO_IR_FILE, ONNX_FILE), _openvino, (INT8, FP32)),
        BackendSpec("lite", (MINDIR_FILE,), _lite),
        BackendSpec("mindspore", (MINDIR_FILE,), _mindspore),
    )
}
BACKEND_CHOICES: tuple[str, ...] = (AUTO_BACKEND, *BACKENDS)


def backend_spec(name: str) -> BackendSpec:
    spec = BACKENDS.get(name)
    if spec is None:
        raise BackendError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    return spec


def create_backend(name: str, version_dir: Path, options: RuntimeOptions) -> Backend:
    """Load one model version's file into backend `name`; raises BackendError."""
    spec = backend_spec(name)
    return spec.build(Path(version_dir) / spec.model_file(version_dir), options)
