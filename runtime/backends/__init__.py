"""Runtime backends behind one interface; runtime.backends.registry names them and picks each version's."""

from runtime.backends.base import Backend, BackendError
from runtime.backends.registry import (
    BACKEND_CHOICES,
    BACKENDS,
    BackendChoice,
    ascend_device_present,
    backend_spec,
    choose_backend,
    create_backend,
)

__all__ = [
    "BACKENDS",
    "BACKEND_CHOICES",
    "Backend",
    "BackendChoice",
    "BackendError",
    "ascend_device_present",
    "backend_spec",
    "choose_backend",
    "create_backend",
]
