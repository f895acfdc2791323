"""TEST DOUBLE of the `mindspore_lite` package (the Lite 2.4+ Python API), which cannot be installed here.

It stands in for the real runtime in tests only (in-process through sys.modules, in a subprocess through
PYTHONPATH=tests/service/lite_api_double), and enforces what the Lite sources and docs demand of a caller:
- tensors are property-style (`name`, `shape`, `dtype`, `format`, `element_num`, `data_size`); the old
  getters (`get_shape()`, `get_tensor_name()`, ...) do not exist;
- `set_data_from_numpy` takes an ndarray of exactly the tensor's dtype and byte size;
- `build_from_file(model_path, model_type, context=None, config_path="", config_dict=None)` type-checks its
  arguments (`config_dict` values are {str: str}); on target ascend or gpu a MINDIR with a dynamic input
  fails to build unless `[ascend_context]`/`[gpu_context]` declares `input_shape` for the model's own
  input name, with `dynamic_dims` (Ascend: gears, at most 100, each 1..2048; GPU: a range plus `opt_dims`);
- `resize` is needed before data of another batch size; on Ascend it accepts only a configured gear, on GPU
  only a batch inside the range;
- one `Model` must not run `predict` concurrently (a second caller inside it raises).

The input name is the MINDIR graph's input name, read from the file's protobuf. Outputs are real: `predict`
runs the `model.onnx` that the export wrote next to `model.mindir`, with onnxruntime; an fp16 precision mode
on Ascend or GPU rounds the outputs through float16, so reduced-precision paths see reduced precision.
"""

import enum
import re
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

__version__ = "2.4.0-double"

ONNX_SIBLING = "model.onnx"
FP16_MODES = ("enforce_fp16", "preferred_optimal")
MAX_GEAR = 2048
MAX_GEARS = 100


class ModelType(enum.Enum):
    MINDIR = 0
    MINDIR_LITE = 4


class DataType(enum.Enum):
    FLOAT16 = 42
    FLOAT32 = 43


class Format(enum.Enum):
    DEFAULT = -1
    NCHW = 0
    NHWC = 1


_NUMPY_TYPES = {DataType.FLOAT32: np.float32, DataType.FLOAT16: np.float16}


class _Options:
    """A fixed set of device options: setting an unknown one raises (the real classes lack such fields)."""

    _fields: tuple[str, ...] = ()

    def __init__(self, **defaults: object) -> None:
        for key, value in defaults.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: object) -> None:
        if key not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no option {key!r}")
        object.__setattr__(self, key, value)


class CPU(_Options):
    _fields = ("thread_num", "inter_op_parallel_num", "precision_mode", "thread_affinity_mode")


class GPU(_Options):
    _fields = ("device_id", "precision_mode")


class Ascend(_Options):
    _fields = ("device_id", "precision_mode", "provider")


class Context:
    VALID_TARGETS = ("cpu", "gpu", "ascend")

    def __init__(self) -> None:
        self.cpu = CPU(thread_num=0, inter_op_parallel_num=0, precision_mode="enforce_fp32")
        self.gpu = GPU(device_id=0, precision_mode="enforce_fp32")
        self.ascend = Ascend(device_id=0, precision_mode="enforce_fp16", provider="")
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
    def __init__(self, name: str = "", shape: list[int] | None = None, dtype: DataType = DataType.FLOAT32):
        self._name = name
        self._shape = list(shape or [])
        self._dtype = dtype
        self._format = Format.NHWC
        self._data: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def shape(self) -> list[int]:
        return list(self._shape)

    @shape.setter
    def shape(self, shape: list[int]) -> None:
        if not isinstance(shape, list | tuple) or not all(isinstance(d, int) for d in shape):
            raise TypeError(f"shape must be a list of int, but got {shape!r}")
        self._shape = list(shape)
        self._data = None

    @property
    def dtype(self) -> DataType:
        return self._dtype

    @property
    def format(self) -> Format:
        return self._format

    @property
    def element_num(self) -> int:
        return int(np.prod(self._shape)) if all(d >= 0 for d in self._shape) else 0

    @property
    def data_size(self) -> int:
        return self.element_num * np.dtype(_NUMPY_TYPES[self._dtype]).itemsize

    def set_data_from_numpy(self, numpy_obj: np.ndarray) -> None:
        if not isinstance(numpy_obj, np.ndarray):
            raise TypeError(f"numpy_obj must be numpy.ndarray, but got {type(numpy_obj)}.")
        if numpy_obj.dtype != _NUMPY_TYPES[self._dtype]:
            raise RuntimeError(
                f"data type not equal! Numpy type: {numpy_obj.dtype}, Tensor type: {self._dtype}"
            )
        if numpy_obj.nbytes != self.data_size:
            raise RuntimeError(
                f"data size not equal! Numpy size: {numpy_obj.nbytes}, Tensor size: {self.data_size}"
            )
        self._data = numpy_obj.reshape(self._shape)

    def get_data_to_numpy(self) -> np.ndarray:
        if self._data is None:
            raise RuntimeError("tensor has no data")
        return self._data


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of one protobuf message: varints as int, length-delimited fields as bytes."""
    found: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            found.append((number, value))
        elif wire == 2:
            length, at = _varint(data, at)
            found.append((number, data[at : at + length]))
            at += length
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        else:
            raise RuntimeError(f"unsupported protobuf wire type {wire}")
    return found


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def read_mindir_input(path: Path) -> tuple[str, list[int]]:
    """The graph input's name and dims from a MINDIR (mind_ir.proto: ModelProto.graph=7, GraphProto.input=5,
    ValueInfoProto.name=1 and .tensor=2, TensorProto.dims=1)."""
    graph = next(v for n, v in _fields(path.read_bytes()) if n == 7)
    inputs = [v for n, v in _fields(graph) if n == 5]
    if len(inputs) != 1:
        raise RuntimeError(f"the double handles one graph input, the MINDIR has {len(inputs)}")
    info = _fields(inputs[0])
    name = next(v for n, v in info if n == 1).decode()
    tensor = next(v for n, v in info if n == 2)
    dims: list[int] = []
    for number, value in _fields(tensor):
        if number == 1 and isinstance(value, int):
            dims.append(_signed(value))
        elif number == 1:  # packed repeated int64
            at = 0
            while at < len(value):
                raw, at = _varint(value, at)
                dims.append(_signed(raw))
    return name, dims


_SHAPE = re.compile(r"^(?P<name>.+):\[(?P<dims>-?\d+(?:,-?\d+)*)\]$")
_RANGE = re.compile(r"^\[(\d+)(?:~(\d+))?\]$")


def _parse_input_shape(text: str, name: str, dims: list[int]) -> None:
    match = _SHAPE.match(text.replace(" ", ""))
    if match is None:
        raise RuntimeError(f"input_shape {text!r} is not NAME:[d0,d1,...]")
    if match["name"] != name:
        raise RuntimeError(f"input_shape names input {match['name']!r}, the model's input is {name!r}")
    declared = [int(d) for d in match["dims"].split(",")]
    if declared != dims:
        raise RuntimeError(f"input_shape declares {declared}, the model's input is {dims}")


def _parse_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in re.findall(r"\[[^\]]*\]", text.replace(" ", "")):
        match = _RANGE.match(part)
        if match is None:
            raise RuntimeError(f"dynamic_dims element {part!r} is not [n] or [lo~hi]")
        low = int(match[1])
        ranges.append((low, int(match[2]) if match[2] else low))
    if not ranges:
        raise RuntimeError(f"dynamic_dims {text!r} names no value")
    return ranges


class Model:
    """Builds from a MINDIR path and computes with the sibling model.onnx; records what callers did."""

    def __init__(self) -> None:
        self._session: ort.InferenceSession | None = None
        self._inputs: list[Tensor] = []
        self._allowed: set[int] | None = None
        self._fp16 = False
        self._busy = threading.Lock()
        self.context: Context | None = None
        self.config_dict: dict[str, dict[str, str]] = {}
        self.resize_calls: list[list[list[int]]] = []
        self.predict_calls = 0

    def build_from_file(
        self,
        model_path: str,
        model_type: ModelType,
        context: Context | None = None,
        config_path: str = "",
        config_dict: dict | None = None,
    ) -> None:
        if not isinstance(model_path, str):
            raise TypeError(f"model_path must be str, but got {type(model_path)}")
        if not isinstance(model_type, ModelType):
            raise TypeError(f"model_type must be ModelType, but got {type(model_type)}")
        context = context or Context()
        if not isinstance(context, Context):
            raise TypeError(f"context must be Context, but got {type(context)}")
        if not isinstance(config_path, str):
            raise TypeError(f"config_path must be str, but got {type(config_path)}")
        if config_path:
            raise RuntimeError("the double reads no config files: pass config_dict")
        for section, values in (config_dict or {}).items():
            if not isinstance(section, str) or not isinstance(values, dict):
                raise TypeError("config_dict must map str to dict")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
                raise TypeError("config_dict values must map str to str")
        path = Path(model_path)
        if not path.exists():
            raise RuntimeError("build_from_file failed, model_path does not exist!")
        name, dims = read_mindir_input(path)
        target = context.target[0].lower()
        self._allowed = self._declared_batches(target, name, dims, config_dict or {})
        self.context = context
        self.config_dict = dict(config_dict or {})
        device = {"ascend": context.ascend, "gpu": context.gpu}.get(target)
        self._fp16 = device is not None and device.precision_mode in FP16_MODES
        self._session = ort.InferenceSession(
            str(path.with_name(ONNX_SIBLING)), providers=["CPUExecutionProvider"]
        )
        self._inputs = [Tensor(name, dims)]
        _BUILT_MODELS.append(self)

    @staticmethod
    def _declared_batches(target: str, name: str, dims: list[int], config: dict) -> set[int] | None:
        """The batch sizes the build allows (None: any); raises when Ascend/GPU lack the declaration."""
        if target == "cpu" or -1 not in dims:
            return None
        section = config.get(f"{target}_context", {})
        if "input_shape" not in section or "dynamic_dims" not in section:
            raise RuntimeError(
                f"build_from_file failed! the model input {name!r} has dynamic shape {dims}: the {target} "
                f"backend needs [{target}_context] input_shape and dynamic_dims"
            )
        _parse_input_shape(section["input_shape"], name, dims)
        ranges = _parse_ranges(section["dynamic_dims"])
        if target == "gpu":
            if len(ranges) != 1 or "opt_dims" not in section:
                raise RuntimeError("[gpu_context] needs one dynamic_dims range [lo~hi] and opt_dims")
            (low, high), (opt, _) = ranges[0], _parse_ranges(section["opt_dims"])[0]
            if not 1 <= low <= opt <= high:
                raise RuntimeError(f"opt_dims {opt} lies outside dynamic_dims [{low}~{high}]")
            return set(range(low, high + 1))
        allowed = {b for low, high in ranges for b in range(low, high + 1)}
        if len(allowed) > MAX_GEARS or not all(1 <= b <= MAX_GEAR for b in allowed):
            raise RuntimeError(f"dynamic_dims: at most {MAX_GEARS} gears, each 1..{MAX_GEAR}")
        return allowed

    def get_inputs(self) -> list[Tensor]:
        return self._inputs

    def resize(self, inputs: list[Tensor], dims: list[list[int]]) -> None:
        if not isinstance(inputs, list) or not all(isinstance(t, Tensor) for t in inputs):
            raise TypeError("inputs must be a list of Tensor")
        if not isinstance(dims, list) or not all(isinstance(d, list) for d in dims):
            raise TypeError("dims must be a list of lists")
        if len(inputs) != len(dims):
            raise ValueError("inputs and dims must have the same length")
        for tensor, shape in zip(inputs, dims, strict=True):
            if not all(type(d) is int for d in shape):
                raise TypeError(f"dims element must be a list of int, but got {shape!r}")
            if shape[1:] != self._inputs[0].shape[1:] and -1 not in self._inputs[0].shape[1:]:
                raise RuntimeError(f"resize failed: {shape} changes a static dimension")
            if self._allowed is not None and shape[0] not in self._allowed:
                raise RuntimeError(
                    f"resize failed: batch {shape[0]} is not among the declared {sorted(self._allowed)}"
                )
            if shape[0] < 1:
                raise RuntimeError(f"resize failed: batch {shape[0]}")
            tensor.shape = shape
        self.resize_calls.append([list(d) for d in dims])

    def predict(self, inputs: list[Tensor], outputs: list[Tensor] | None = None) -> list[Tensor]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("Model.predict entered concurrently: a Model must not be used by two threads")
        try:
            self.predict_calls += 1
            if outputs is not None:
                raise NotImplementedError("the double does not fill caller-given output tensors")
            if not isinstance(inputs, list | tuple) or len(inputs) != len(self._inputs):
                raise TypeError(f"inputs must be a list of {len(self._inputs)} Tensor")
            if any(tensor._data is None for tensor in inputs):
                raise RuntimeError(
                    "predict failed: no input data for the current shape (resize, then set data)"
                )
            time.sleep(0.002)  # widen the window in which a concurrent call would be caught
            assert self._session is not None
            feed = {self._session.get_inputs()[0].name: inputs[0].get_data_to_numpy()}
            output = np.ascontiguousarray(self._session.run(None, feed)[0], dtype=np.float32)
            if self._fp16:
                output = output.astype(np.float16).astype(np.float32)
            result = Tensor("heatmaps", list(output.shape))
            result.set_data_from_numpy(output)
            return [result]
        finally:
            self._busy.release()


_BUILT_MODELS: list[Model] = []


def built_models() -> list[Model]:
    """Every Model built in this process (tests clear the list first), to inspect what the backend did."""
    return _BUILT_MODELS
