"""OIP tensors: the datatypes, and a tensor's data read from each form the protocol carries it in (JSON
values, raw little-endian bytes, gRPC's typed contents) and written back as JSON values or raw bytes.

Every size is checked against the shape before anything is allocated from it, so a header that promises a
huge tensor costs nothing. A BYTES tensor is an object array whose elements are `bytes` (raw and gRPC
forms) or `str` (JSON, which cannot carry bytes; a model decides what a string means).
"""

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BYTES, BOOL, UINT8, FP32 = "BYTES", "BOOL", "UINT8", "FP32"
# Each fixed-size datatype's numpy type, little-endian as the protocol's raw form is.
NUMERIC_DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(dtype).newbyteorder("<")
    for name, dtype in (
        (BOOL, np.bool_),
        (UINT8, np.uint8),
        ("UINT16", np.uint16),
        ("UINT32", np.uint32),
        ("UINT64", np.uint64),
        ("INT8", np.int8),
        ("INT16", np.int16),
        ("INT32", np.int32),
        ("INT64", np.int64),
        ("FP16", np.float16),
        (FP32, np.float32),
        ("FP64", np.float64),
    )
}
DATATYPES: tuple[str, ...] = (*NUMERIC_DTYPES, BYTES)
_KIND_WORDS = {"b": "true or false", "u": "integers", "i": "integers"}
# A raw BYTES element: its length as a 4-byte little-endian unsigned integer, then its bytes.
_LENGTH = struct.Struct("<I")


class TensorError(ValueError):
    """A tensor the caller sent is malformed: unknown datatype, bad shape, data that does not fit them."""


@dataclass(frozen=True)
class Tensor:
    """A named tensor; `data` has `shape` and the datatype's numpy type (an object array for BYTES)."""

    name: str
    datatype: str
    data: np.ndarray

    @property
    def shape(self) -> list[int]:
        return list(self.data.shape)


def element_count(name: str, datatype: str, shape: Sequence[Any]) -> int:
    """The number of elements `shape` holds, after checking the datatype and that each dimension is an
    integer >= 0."""
    if datatype not in DATATYPES:
        raise TensorError(f"tensor {name!r}: unknown datatype {datatype!r} (known: {', '.join(DATATYPES)})")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise TensorError(f"tensor {name!r}: the shape must be a list of integers >= 0, got {list(shape)}")
    return math.prod(shape)


def from_raw(name: str, datatype: str, shape: Sequence[int], raw: bytes) -> Tensor:
    """A tensor from its raw bytes (the binary extension, gRPC's raw contents)."""
    count = element_count(name, datatype, shape)
    if datatype == BYTES:
        return _shaped(name, datatype, _bytes_elements(name, raw), shape)
    dtype = NUMERIC_DTYPES[datatype]
    if len(raw) != count * dtype.itemsize:
        raise TensorError(
            f"tensor {name!r}: shape {list(shape)} of {datatype} needs {count * dtype.itemsize} bytes, "
            f"got {len(raw)}"
        )
    data = np.frombuffer(raw, dtype=dtype)
    if datatype == BOOL and not np.isin(data.view(np.uint8), (0, 1)).all():
        raise TensorError(f"tensor {name!r}: BOOL bytes must be 0 or 1")
    return Tensor(name, datatype, data.reshape(tuple(shape)))


def from_values(name: str, datatype: str, shape: Sequence[int], values: Any) -> Tensor:
    """A tensor from a list of values, flat or nested in row-major order (JSON's `data`, gRPC's typed
    contents). Integer and BOOL datatypes take exactly integers and booleans; floats take any number."""
    count = element_count(name, datatype, shape)
    if not isinstance(values, list | tuple):
        raise TensorError(f"tensor {name!r}: 'data' must be a list")
    dtype = NUMERIC_DTYPES.get(datatype)
    try:
        array = np.asarray(values) if dtype is not None and dtype.kind == "f" else _object_array(values)
    except (ValueError, TypeError) as error:  # ragged nesting
        raise TensorError(f"tensor {name!r}: 'data' is not a regular nested list: {error}") from error
    if array.size != count:
        raise TensorError(
            f"tensor {name!r}: shape {list(shape)} holds {count} elements, 'data' has {array.size}"
        )
    if dtype is None:
        if not all(isinstance(v, str | bytes) for v in array.flat):
            raise TensorError(f"tensor {name!r}: BYTES elements must be strings")
        return _shaped(name, datatype, list(array.flat), shape)
    if dtype.kind == "f":
        if count and array.dtype.kind not in "iuf":
            raise TensorError(f"tensor {name!r}: {datatype} data must be numbers")
    else:
        exact = bool if dtype.kind == "b" else int
        if not all(type(v) is exact for v in array.flat):
            raise TensorError(f"tensor {name!r}: {datatype} data must be {_KIND_WORDS[dtype.kind]}")
        limits = np.iinfo(dtype) if dtype.kind != "b" else None
        if limits is not None and count and (min(array.flat) < limits.min or max(array.flat) > limits.max):
            raise TensorError(f"tensor {name!r}: a value is outside the range of {datatype}")
    return Tensor(name, datatype, array.astype(dtype).reshape(tuple(shape)))


def to_raw(tensor: Tensor) -> bytes:
    """The tensor's raw bytes: row-major little-endian values, or length-prefixed BYTES elements."""
    if tensor.datatype == BYTES:
        return b"".join(_LENGTH.pack(len(e)) + e for e in (_as_bytes(v) for v in tensor.data.flat))
    return np.ascontiguousarray(tensor.data, dtype=NUMERIC_DTYPES[tensor.datatype]).tobytes()


def to_values(tensor: Tensor) -> list[Any]:
    """The tensor's elements as a flat list of JSON values (BYTES elements as UTF-8 text)."""
    if tensor.datatype == BYTES:
        return [_as_bytes(v).decode("utf-8", errors="replace") for v in tensor.data.flat]
    return list(tensor.data.reshape(-1).tolist())


def _bytes_elements(name: str, raw: bytes) -> list[bytes]:
    elements = []
    offset = 0
    while offset < len(raw):
        if offset + _LENGTH.size > len(raw):
            raise TensorError(f"tensor {name!r}: BYTES data ends inside an element's 4-byte length")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise TensorError(f"tensor {name!r}: a BYTES element of {length} bytes runs past the data's end")
        elements.append(raw[offset : offset + length])
        offset += length
    return elements


def _object_array(values: Any) -> np.ndarray:
    """Nested lists of strings as an object array of their row-major shape (numpy would make them text)."""
    array = np.asarray(values, dtype=object)
    if array.dtype != object or any(isinstance(v, list) for v in array.flat):
        raise ValueError("the nesting is not regular")
    return array


def _shaped(name: str, datatype: str, elements: list[Any], shape: Sequence[int]) -> Tensor:
    count = math.prod(shape)
    if len(elements) != count:
        raise TensorError(f"tensor {name!r}: shape {list(shape)} holds {count} elements, got {len(elements)}")
    data = np.empty(count, dtype=object)
    data[:] = elements
    return Tensor(name, datatype, data.reshape(tuple(shape)))


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value
