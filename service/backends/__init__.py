"""Runtime backends behind one interface, chosen by HGPOSE_BACKEND (auto: Lite on Ascend, else ORT)."""

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from service.backends.base import Backend, BackendError
from service.backends.registry import AUTO, BACKEND_CHOICES, BACKENDS, backend_spec, create_backend

if TYPE_CHECKING:
    from service.settings import Settings

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


def resolve_backend(settings: "Settings", device_dir: Path = DEVICE_DIR) -> str:
    """The concrete backend; `auto` picks Lite only when its package imports and an Ascend NPU is there."""
    if settings.backend != AUTO:
        return settings.backend
    lite_importable = importlib.util.find_spec("mindspore_lite") is not None
    if (
        lite_importable
        and settings.lite_target == "ascend"
        and ascend_device_present(settings.lite_device_id, device_dir)
    ):
        return "lite"
    return "onnxruntime"
