"""MindSpore Lite backend for Ascend (also its CPU/GPU targets), on the exported MINDIR.

Written against the documented mindspore_lite 2.x Python API (REFERENCE.md §10) and tested only against a
test double of that API: it has never run on Ascend hardware. A Lite `Model` must not be entered
concurrently and must be `resize`d before a batch of another size, so every call holds a lock.
"""

import importlib
import threading
from pathlib import Path
from types import ModuleType

import numpy as np

from service.backends.base import BackendError

LITE_MODULE = "mindspore_lite"


def import_lite() -> ModuleType:
    """The mindspore_lite package, or BackendError saying where it comes from."""
    try:
        return importlib.import_module(LITE_MODULE)
    except ImportError as error:
        raise BackendError(
            "the MindSpore Lite backend needs the mindspore_lite package, which comes from MindSpore's "
            "release site for the host's CANN version (not PyPI); see service/README.md"
        ) from error


class LiteBackend:
    name = "lite"

    def __init__(
        self, model_path: Path, target: str, device_id: int, precision_mode: str, cpu_threads: int
    ) -> None:
        lite = import_lite()
        context = lite.Context()
        context.target = [target]
        if target == "ascend":
            context.ascend.device_id = device_id
            context.ascend.precision_mode = precision_mode
        elif target == "gpu":
            context.gpu.device_id = device_id
            context.gpu.precision_mode = precision_mode
        context.cpu.thread_num = cpu_threads
        self._model = lite.Model()
        try:
            self._model.build_from_file(str(model_path), lite.ModelType.MINDIR, context)
        except (RuntimeError, ValueError, TypeError) as error:
            raise BackendError(f"MindSpore Lite cannot build {model_path.name}: {error}") from error
        self.devices = [target]
        self._inputs = self._model.get_inputs()
        self._shape = [int(d) for d in self._inputs[0].get_shape()]
        self._lock = threading.Lock()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        shape = [int(d) for d in batch.shape]
        with self._lock:
            if shape != self._shape:
                self._model.resize(self._inputs, [shape])
                self._shape = shape
            self._inputs[0].set_data_from_numpy(batch)
            outputs = self._model.predict(self._inputs)
            return np.array(outputs[0].get_data_to_numpy(), copy=True)

    def close(self) -> None:
        with self._lock:
            del self._model
