"""Every runtime backend, named once: the model file it runs and how it is built from the settings.

Settings validation, the command line's choices and the repository loader all read this table, so adding
a backend is one entry here plus its module. Runtimes are imported only when a backend is built.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.model_repo import FP32, INT8, MINDIR_FILE, ONNX_FILE, OPENVINO_IR_FILE
from service.backends.base import Backend, BackendError

if TYPE_CHECKING:
    from service.settings import Settings

AUTO = "auto"


@dataclass(frozen=True)
class BackendSpec:
    """`model_files` in order of preference: a version is served from the first one its folder holds.
    `default_precisions` in order of preference: a model's default version is the newest ready one of the
    first precision that has one (any precision when none has)."""

    name: str
    model_files: tuple[str, ...]
    build: "Callable[[Path, Settings], Backend]"
    default_precisions: tuple[str, ...] = (FP32,)

    def model_file(self, version_dir: Path) -> str:
        """The file it runs for the version in `version_dir` (the last choice when none is there)."""
        present = [name for name in self.model_files if (Path(version_dir) / name).is_file()]
        return present[0] if present else self.model_files[-1]


def _onnxruntime(path: Path, settings: "Settings") -> Backend:
    from service.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend(
        path, settings.ort_intra_op_threads, settings.ort_inter_op_threads, settings.ort_use_cuda
    )


def _lite(path: Path, settings: "Settings") -> Backend:
    from service.backends.lite import LiteBackend, LiteOptions

    options = LiteOptions(
        target=settings.lite_target,
        device_id=settings.lite_device_id,
        precision_mode=settings.lite_precision_mode,
        cpu_threads=settings.lite_cpu_threads,
        gears=settings.lite_batch_gears,
    )
    return LiteBackend(path, options)


def _openvino(path: Path, settings: "Settings") -> Backend:
    from service.backends.openvino import OpenVinoBackend

    return OpenVinoBackend(
        path,
        settings.openvino_device,
        settings.openvino_threads,
        settings.openvino_performance_hint,
        settings.openvino_inference_precision,
    )


def _mindspore(path: Path, settings: "Settings") -> Backend:
    from service.backends.mindspore import MindSporeBackend

    return MindSporeBackend(path, settings.mindspore_device_target)


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
BACKEND_CHOICES: tuple[str, ...] = (AUTO, *BACKENDS)


def backend_spec(name: str) -> BackendSpec:
    spec = BACKENDS.get(name)
    if spec is None:
        raise BackendError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    return spec


def create_backend(name: str, version_dir: Path, settings: "Settings") -> Backend:
    """Load one model version's file into backend `name`; raises BackendError."""
    spec = backend_spec(name)
    return spec.build(Path(version_dir) / spec.model_file(version_dir), settings)
