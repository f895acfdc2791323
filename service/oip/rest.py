"""The REST infer bodies: a request read from JSON or from the binary tensor extension, a result written back.

Binary extension (what tritonclient sends by default): the header `Inference-Header-Content-Length: N` says
the body's first N bytes are the JSON request; each input with parameter `binary_data_size` takes that many
of the bytes after it, in input order. Outputs go back in binary when the request asks (per output
`binary_data`, or `binary_data_output` for all), each with `binary_data_size`, after a JSON header whose
length the response's own `Inference-Header-Content-Length` gives.
"""

import json
from typing import Any

from service.oip.calls import InferRequest, InferResult, RequestedOutput
from service.oip.tensors import Tensor, TensorError, from_raw, from_values, to_raw, to_values
from service.payload import parse_json

INFERENCE_HEADER = "inference-header-content-length"
JSON_MEDIA_TYPE = "application/json"
BINARY_MEDIA_TYPE = "application/octet-stream"
# Brackets, braces and commas a JSON request may hold: its parse holds the event loop's GIL, so tensors of
# more values than this go in binary (a 128 px crop is 49,152 values).
MAX_JSON_SEPARATORS = 1 << 20
_JSON_BOUND = "send large tensors in binary (Inference-Header-Content-Length); JSON may hold at most"


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TensorError(f"{what} must be a JSON object")
    return value


def _parameters(entry: dict[str, Any], what: str) -> dict[str, Any]:
    return _object(entry.get("parameters", {}), f"{what}'s 'parameters'")


def _string(entry: dict[str, Any], key: str, what: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise TensorError(f"{what} needs '{key}' as a string")
    return value


def _input(entry: Any, index: int, binary: memoryview, offset: int) -> tuple[Tensor, int]:
    """One input tensor, its data from 'data' or from the binary part at `offset`; the offset after it."""
    what = f"input {index}"
    entry = _object(entry, what)
    name = _string(entry, "name", what)
    what = f"input {name!r}"
    datatype = _string(entry, "datatype", what)
    shape = entry.get("shape")
    if not isinstance(shape, list):
        raise TensorError(f"{what} needs 'shape' as a list of integers")
    size = _parameters(entry, what).get("binary_data_size")
    if size is None:
        if "data" not in entry:
            raise TensorError(f"{what} has neither 'data' nor parameter 'binary_data_size'")
        return from_values(name, datatype, shape, entry["data"]), offset
    if "data" in entry:
        raise TensorError(f"{what} has both 'data' and parameter 'binary_data_size'")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise TensorError(f"{what}: binary_data_size must be an integer >= 0")
    if offset + size > len(binary):
        raise TensorError(f"{what}: binary_data_size {size} runs past the end of the body")
    return from_raw(name, datatype, shape, bytes(binary[offset : offset + size])), offset + size


def _outputs(raw: Any) -> list[RequestedOutput] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise TensorError("'outputs' must be a list")
    requested = []
    for index, entry in enumerate(raw):
        entry = _object(entry, f"output {index}")
        name = _string(entry, "name", f"output {index}")
        binary = _parameters(entry, f"output {name!r}").get("binary_data", False)
        if not isinstance(binary, bool):
            raise TensorError(f"output {name!r}: binary_data must be true or false")
        requested.append(RequestedOutput(name, binary))
    return requested


def read_infer_request(body: bytes, header_length: str | None) -> InferRequest:
    """The request in `body`; `header_length` is the Inference-Header-Content-Length header (None: JSON only).

    Raises TensorError, or ServiceError for a body that is not JSON.
    """
    if header_length is None:
        json_part, binary = body, memoryview(b"")
    else:
        if not header_length.isdigit() or not 0 < int(header_length) <= len(body):
            raise TensorError(
                f"Inference-Header-Content-Length must be an integer in 1..{len(body)} (the body's size), "
                f"got {header_length!r}"
            )
        json_part, binary = body[: int(header_length)], memoryview(body)[int(header_length) :]
    parsed = parse_json(json_part, "the inference request", MAX_JSON_SEPARATORS, _JSON_BOUND)
    request = _object(parsed, "the request")
    raw_inputs = request.get("inputs")
    if not isinstance(raw_inputs, list):
        raise TensorError("the request needs 'inputs' as a list of tensors")
    inputs = []
    offset = 0
    for index, entry in enumerate(raw_inputs):
        tensor, offset = _input(entry, index, binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise TensorError(
            f"the body holds {len(binary)} bytes after the JSON header; the inputs' binary_data_size add "
            f"up to {offset}"
        )
    request_id = request.get("id", "")
    if not isinstance(request_id, str):
        raise TensorError("'id' must be a string")
    binary_outputs = _parameters(request, "the request").get("binary_data_output", False)
    if not isinstance(binary_outputs, bool):
        raise TensorError("parameter binary_data_output must be true or false")
    return InferRequest(request_id, inputs, _outputs(request.get("outputs")), binary_outputs)


def write_infer_result(result: InferResult, request: InferRequest) -> tuple[bytes, int | None]:
    """The response body and, when some output is binary, the length of its JSON header."""
    binary_names = {o.name for o in request.outputs if o.binary} if request.outputs is not None else None
    entries: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for tensor in result.outputs:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        binary = request.binary_outputs if binary_names is None else tensor.name in binary_names
        if binary:
            blob = to_raw(tensor)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = to_values(tensor)
        entries.append(entry)
    document: dict[str, Any] = {"model_name": result.model_name, "model_version": result.model_version}
    if result.id:
        document["id"] = result.id
    document["outputs"] = entries
    header = json.dumps(document, separators=(",", ":")).encode()
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)
