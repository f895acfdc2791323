"""Every runtime backend, named once: the model file it runs and how it is built from the runtime options,
and the rule that picks each version's backend.

The settings' validation, the command line's choices and the repository loader all read this table, so adding
a backend is one entry here plus its module. Runtimes are imported only when a backend is built.
"""

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.model_repo import INT8, MINDIR_FILE, ONNX_FILE, OPENVINO_IR_FILE
from runtime.backends.base import Backend, BackendError
from runtime.options import AUTO_BACKEND, RuntimeOptions

DEVICE_DIR = Path("/dev")


@dataclass(frozen=True)
class BackendSpec:
    """`model_files` in order of preference: a version is served from the first one its folder holds.
    `fast_precisions`: the reduced precisions it runs faster than fp32 (a model's default version prefers
    them, runtime.repository.snapshot)."""

    name: str
    model_files: tuple[str, ...]
    build: Callable[[Path, RuntimeOptions], Backend]
    fast_precisions: tuple[str, ...] = ()

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
        BackendSpec("openvino", (OPENVINO_IR_FILE, ONNX_FILE), _openvino, (INT8,)),
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


@dataclass(frozen=True)
class BackendChoice:
    """The backend one version runs on, and why: logged at load, shown by /v1/models and OIP's metadata."""

    name: str
    reason: str


def ascend_device_present(device_id: int, device_dir: Path = DEVICE_DIR) -> bool:
    """Whether the Ascend driver exposes NPU `device_id` (/dev/davinciN)."""
    return (device_dir / f"davinci{device_id}").exists()


def _installed(package: str) -> bool:
    """Whether `package` can be imported (an entry of None in sys.modules blocks it, as for `import`)."""
    try:
        return importlib.util.find_spec(package) is not None
    except ValueError:
        return False


def choose_backend(
    options: RuntimeOptions, version_dir: Path, precision: str | None, device_dir: Path = DEVICE_DIR
) -> BackendChoice:
    """The backend for the version in `version_dir` (`precision` from its metadata; None when unreadable).

    A backend named in the options serves every version. `auto` chooses per version: Lite when its package
    imports, the target is an Ascend NPU that is present and the version has a MINDIR; OpenVINO for an int8
    version with an OpenVINO IR when openvino is installed (onnxruntime runs NNCF's int8 graphs slower than
    fp32); onnxruntime otherwise.
    """
    if options.backend != AUTO_BACKEND:
        return BackendChoice(options.backend, f"the backend setting names {options.backend}")
    lite = options.backends.lite
    if (
        lite.target == "ascend"
        and (Path(version_dir) / MINDIR_FILE).is_file()
        and ascend_device_present(lite.device_id, device_dir)
        and _installed("mindspore_lite")
    ):
        return BackendChoice(
            "lite", f"auto: Ascend NPU {lite.device_id} is present and the version has a MINDIR"
        )
    if precision == INT8:
        if not (Path(version_dir) / OPENVINO_IR_FILE).is_file():
            return BackendChoice("onnxruntime", "auto: int8 without an OpenVINO IR")
        if not _installed("openvino"):
            return BackendChoice(
                "onnxruntime", "auto: int8 with an OpenVINO IR, but openvino is not installed"
            )
        return BackendChoice(
            "openvino", "auto: int8 with an OpenVINO IR, which OpenVINO runs in int8 kernels"
        )
    if precision is None:
        return BackendChoice("onnxruntime", "auto: the version's metadata could not be read")
    return BackendChoice("onnxruntime", f"auto: {precision} on the CPU")
