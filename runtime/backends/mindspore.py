"""MindSpore backend: `mindspore.load` + `nn.GraphCell` on the exported MINDIR (dynamic batch).

The oneDNN ISA cap (runtime.backends.cpu_isa) is applied before mindspore is imported: on AVX-512 CPUs it
avoids a ~25x slower convolution path.
"""

import threading
from pathlib import Path

import numpy as np

from runtime.backends.base import BackendError
from runtime.backends.cpu_isa import limit_onednn_isa


class MindSporeBackend:
    name = "mindspore"
    batch_sizes: tuple[int, ...] | None = None

    def __init__(self, model_path: Path, device_target: str) -> None:
        limit_onednn_isa()
        try:
            import mindspore
        except ImportError as error:
            raise BackendError("the mindspore backend needs the mindspore package") from error
        mindspore.set_context(mode=mindspore.GRAPH_MODE, device_target=device_target)
        try:
            graph = mindspore.load(str(model_path))
        except (RuntimeError, ValueError) as error:
            raise BackendError(f"mindspore cannot load {model_path.name}: {error}") from error
        self.devices = [device_target]
        self._mindspore = mindspore
        self._cell = mindspore.nn.GraphCell(graph)
        self._lock = threading.Lock()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        tensor = self._mindspore.Tensor(np.ascontiguousarray(batch, dtype=np.float32))
        with self._lock:
            output = self._cell(tensor)
        if isinstance(output, tuple | list):
            output = output[0]
        return output.asnumpy()

    def close(self) -> None:
        del self._cell
