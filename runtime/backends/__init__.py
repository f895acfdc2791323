"""Runtime backends behind one interface, chosen by the runtime options (auto: Lite on Ascend, else ORT)."""

import importlib.util
from pathlib import Path

from runtime.backends.base import Backend, BackendError
from runtime.backends.registry import BACKEND_CHOICES, BACKENDS, backend_spec, create_backend
from runtime.options import AUTO_BACKEND, RuntimeOptions

__all__ = [
    "BACKENDS",
    "BACKEND_CHOICES",
    "Backend",
    "BackendError",
    "ascend_device_present",
    "backend_spec",
    "create_backend",
    "resolve_backend",
]

DEVICE_DIR = Path("/dev")


def ascend_device_present(device_id: int, device_dir: Path = DEVICE_DIR) -> bool:
    """Whether the Ascend driver exposes NPU `device_id` (/dev/davinciN)."""
    return (device_dir / f"davinci{device_id}").exists()


def resolve_backend(options: RuntimeOptions, device_dir: Path = DEVICE_DIR) -> str:
    """The concrete backend; `auto` picks Lite only when its package imports and an Ascend NPU is there."""
    if options.backend != AUTO_BACKEND:
        return options.backend
    lite = options.backends.lite
    lite_importable = importlib.util.find_spec("mindspore_lite") is not None
    if lite_importable and lite.target == "ascend" and ascend_device_present(lite.device_id, device_dir):
        return "lite"
    return "onnxruntime"
