"""TEST DOUBLE of the `mindspore_lite` package (2.x Python API), which cannot be installed here.

It stands in for the real runtime only in tests, and enforces what the documented API demands of its
callers (docs/reference.md#mindspore-lite-api):
- `Tensor.set_data_from_numpy` accepts only an ndarray of exactly the tensor's dtype and byte size;
- a new input shape needs `Model.resize(inputs, [[N, ...]])` first;
- one `Model` must not run `predict` concurrently (entering it twice at once raises).
Outputs are real: `predict` runs the model.onnx that the export wrote next to model.mindir, with
onnxruntime. Tests put this module into sys.modules as `mindspore_lite` (see test_lite_backend.py).
"""

import enum
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort

ONNX_SIBLING = "model.onnx"


class ModelType(enum.Enum):
    MINDIR = 0
    MINDIR_LITE = 4


class DataType(enum.Enum):
    FLOAT32 = 43
    FLOAT16 = 42


_NUMPY_TYPES = {DataType.FLOAT32: np.float32, DataType.FLOAT16: np.float16}


class Context:
    """target list plus per-device option holders, as in mindspore_lite.Context."""

    VALID_TARGETS = ("cpu", "gpu", "ascend")

    def __init__(self) -> None:
        self.cpu = SimpleNamespace(thread_num=0, inter_op_parallel_num=0, precision_mode="enforce_fp32")
        self.gpu = SimpleNamespace(device_id=0, precision_mode="enforce_fp32")
        self.ascend = SimpleNamespace(device_id=0, precision_mode="enforce_fp16", provider="")
        self._target = ["cpu"]

    @property
    def target(self) -> list[str]:
        return self._target

    @target.setter
    def target(self, target: list[str]) -> None:
        if not isinstance(target, list) or not all(isinstance(t, str) for t in target):
            raise TypeError(f"target must be a list of str, but got {target!r}")
        for element in target:
            if element.lower() not in self.VALID_TARGETS:
                raise ValueError(f"target elements must be in {list(self.VALID_TARGETS)}, but got {element}")
        self._target = target


class Tensor:
    def __init__(self, shape: list[int], data_type: DataType = DataType.FLOAT32) -> None:
        self._shape = list(shape)
        self._data_type = data_type
        self._data: np.ndarray | None = None

    def get_shape(self) -> list[int]:
        return list(self._shape)

    def get_data_type(self) -> DataType:
        return self._data_type

    def get_element_num(self) -> int:
        return int(np.prod(self._shape))

    def get_data_size(self) -> int:
        return self.get_element_num() * np.dtype(_NUMPY_TYPES[self._data_type]).itemsize

    def set_data_from_numpy(self, numpy_obj: np.ndarray) -> None:
        if not isinstance(numpy_obj, np.ndarray):
            raise TypeError(f"numpy_obj must be numpy.ndarray, but got {type(numpy_obj)}.")
        if numpy_obj.dtype != _NUMPY_TYPES[self._data_type]:
            raise RuntimeError(f"data type not equal! Numpy: {numpy_obj.dtype}, Tensor: {self._data_type}")
        if numpy_obj.nbytes != self.get_data_size():
            raise RuntimeError(
                f"data size not equal! Numpy size: {numpy_obj.nbytes}, Tensor size: {self.get_data_size()}"
            )
        self._data = numpy_obj.reshape(self._shape)

    def get_data_to_numpy(self) -> np.ndarray:
        if self._data is None:
            raise RuntimeError("tensor has no data")
        return self._data


class Model:
    """Builds from a MINDIR path and computes with the sibling model.onnx; records what callers did."""

    def __init__(self) -> None:
        self._session: ort.InferenceSession | None = None
        self._inputs: list[Tensor] = []
        self._busy = threading.Lock()
        self.context: Context | None = None
        self.resize_calls: list[list[list[int]]] = []
        self.predict_calls = 0

    def build_from_file(self, model_path: str, model_type: ModelType, context: Context | None = None) -> None:
        if not isinstance(model_path, str):
            raise TypeError(f"model_path must be str, but got {type(model_path)}")
        if not isinstance(model_type, ModelType):
            raise TypeError(f"model_type must be ModelType, but got {type(model_type)}")
        path = Path(model_path)
        if not path.exists():
            raise RuntimeError("build_from_file failed, model_path does not exist!")
        self.context = context or Context()
        onnx_path = str(path.with_name(ONNX_SIBLING))
        self._session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        declared = self._session.get_inputs()[0].shape
        self._inputs = [Tensor([1 if not isinstance(d, int) else d for d in declared])]
        _BUILT_MODELS.append(self)

    def get_inputs(self) -> list[Tensor]:
        return self._inputs

    def resize(self, inputs: list[Tensor], dims: list[list[int]]) -> None:
        if not isinstance(inputs, list) or not isinstance(dims, list) or len(inputs) != len(dims):
            raise TypeError("resize takes a list of input tensors and a list of shapes of the same length")
        for tensor, shape in zip(inputs, dims, strict=True):
            if not isinstance(shape, list) or not all(type(d) is int for d in shape):
                raise TypeError(f"dims element must be a list of int, but got {shape!r}")
            tensor._shape = list(shape)
            tensor._data = None
        self.resize_calls.append([list(d) for d in dims])

    def predict(self, inputs: list[Tensor]) -> list[Tensor]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("Model.predict entered concurrently: a Model must not be used by two threads")
        try:
            self.predict_calls += 1
            assert self._session is not None
            if any(tensor._data is None for tensor in inputs):
                raise RuntimeError(
                    "predict failed: no input data for the current shape (resize, then set data)"
                )
            time.sleep(0.002)  # widen the window in which a concurrent call would be caught
            feed = {self._session.get_inputs()[0].name: inputs[0].get_data_to_numpy()}
            output = self._session.run(None, feed)[0]
            result = Tensor(list(output.shape))
            result.set_data_from_numpy(np.ascontiguousarray(output, dtype=np.float32))
            return [result]
        finally:
            self._busy.release()


_BUILT_MODELS: list[Model] = []


def built_models() -> list[Model]:
    """Every Model built (tests clear the list first), to inspect what the backend did."""
    return _BUILT_MODELS
