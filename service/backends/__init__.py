"""Runtime backends behind one interface, chosen by HGPOSE_BACKEND (auto: Lite on Ascend, else ORT)."""

import importlib.util
from pathlib import Path

from core.model_repo import MINDIR_FILE, ONNX_FILE
from service.backends.base import Backend, BackendError
from service.settings import Settings

__all__ = [
    "Backend",
    "BackendError",
    "ascend_device_present",
    "create_backend",
    "model_file",
    "resolve_backend",
]

MODEL_FILES = {"onnxruntime": ONNX_FILE, "lite": MINDIR_FILE, "mindspore": MINDIR_FILE}
DEVICE_DIR = Path("/dev")


def ascend_device_present(device_id: int, device_dir: Path = DEVICE_DIR) -> bool:
    """Whether the Ascend driver exposes NPU `device_id` (/dev/davinciN)."""
    return (device_dir / f"davinci{device_id}").exists()


def resolve_backend(settings: Settings, device_dir: Path = DEVICE_DIR) -> str:
    """The concrete backend; `auto` picks Lite only when its package imports and an Ascend NPU is there."""
    if settings.backend != "auto":
        return settings.backend
    lite_importable = importlib.util.find_spec("mindspore_lite") is not None
    if (
        lite_importable
        and settings.lite_target == "ascend"
        and ascend_device_present(settings.lite_device_id, device_dir)
    ):
        return "lite"
    return "onnxruntime"


def model_file(backend: str) -> str:
    """The file of a model version that `backend` runs."""
    return MODEL_FILES[backend]


def create_backend(backend: str, version_dir: Path, settings: Settings) -> Backend:
    """Load one model version's file into a backend; raises BackendError."""
    path = Path(version_dir) / model_file(backend)
    if backend == "onnxruntime":
        from service.backends.onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(
            path, settings.ort_intra_op_threads, settings.ort_inter_op_threads, settings.ort_use_cuda
        )
    if backend == "lite":
        from service.backends.lite import LiteBackend, LiteOptions

        options = LiteOptions(
            target=settings.lite_target,
            device_id=settings.lite_device_id,
            precision_mode=settings.lite_precision_mode,
            cpu_threads=settings.lite_cpu_threads,
            gears=settings.lite_batch_gears,
        )
        return LiteBackend(path, options)
    if backend == "mindspore":
        from service.backends.mindspore import MindSporeBackend

        return MindSporeBackend(path, settings.mindspore_device_target)
    raise BackendError(f"unknown backend {backend!r}")
