"""OIP tensors and REST bodies on their own: every form a tensor travels in, and the malformed ones refused
with a message that names the tensor and the problem."""

import json
import struct

import numpy as np
import pytest

from service.errors import ServiceError
from service.oip.calls import InferRequest, InferResult, RequestedOutput
from service.oip.rest import read_infer_request, write_infer_result
from service.oip.tensors import NUMERIC_DTYPES, Tensor, TensorError, from_raw, from_values, to_raw, to_values


@pytest.mark.parametrize("datatype", sorted(NUMERIC_DTYPES))
def test_numeric_tensors_survive_raw_and_values(datatype: str) -> None:
    dtype = NUMERIC_DTYPES[datatype]
    if datatype == "BOOL":
        data = np.array([[True, False, True], [False, False, True]])
    else:
        info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
        data = np.array([[info.min, 0, 1], [2, 3, info.max]], dtype=dtype)
    tensor = Tensor("T", datatype, data)
    raw = to_raw(tensor)
    assert len(raw) == 6 * dtype.itemsize
    np.testing.assert_array_equal(from_raw("T", datatype, [2, 3], raw).data, data)
    np.testing.assert_array_equal(from_values("T", datatype, [2, 3], to_values(tensor)).data, data)
    nested = data.tolist()  # row-major nesting is accepted as well as a flat list
    assert from_values("T", datatype, [2, 3], nested).data.dtype == dtype


def test_raw_values_are_little_endian() -> None:
    assert to_raw(Tensor("T", "FP32", np.array([1.0], np.float32))) == struct.pack("<f", 1.0)
    assert from_raw("T", "INT32", [1], struct.pack("<i", -2)).data.tolist() == [-2]


def test_bytes_elements_are_length_prefixed_and_json_strings_stay_text() -> None:
    elements = [b"", b"\x00\xff jpeg", b"x" * 300]
    raw = b"".join(struct.pack("<I", len(e)) + e for e in elements)
    tensor = from_raw("IMAGE", "BYTES", [3], raw)
    assert list(tensor.data) == elements and to_raw(tensor) == raw
    text = from_values("IMAGE", "BYTES", [1, 2], [["a", "b"]])
    assert text.shape == [1, 2] and list(text.data.flat) == ["a", "b"]


@pytest.mark.parametrize(
    ("datatype", "shape", "raw", "message"),
    [
        ("FP32", [2], b"\x00" * 7, "needs 8 bytes, got 7"),
        ("FP33", [1], b"", "unknown datatype 'FP33'"),
        ("FP32", [-1], b"", "integers >= 0"),
        ("FP32", [1.5], b"", "integers >= 0"),
        ("BOOL", [1], b"\x02", "BOOL bytes must be 0 or 1"),
        ("BYTES", [1], b"\x05\x00\x00", "ends inside an element's 4-byte length"),
        ("BYTES", [1], b"\x05\x00\x00\x00abc", "runs past the data's end"),
        ("BYTES", [2], b"\x01\x00\x00\x00a", "holds 2 elements, got 1"),
        ("FP32", [10**12], b"\x00" * 4, "needs 4000000000000 bytes"),
    ],
)
def test_malformed_raw_tensors_are_refused(datatype: str, shape: list, raw: bytes, message: str) -> None:
    with pytest.raises(TensorError, match=message):
        from_raw("T", datatype, shape, raw)


@pytest.mark.parametrize(
    ("datatype", "shape", "values", "message"),
    [
        ("FP32", [3], [1, 2], "holds 3 elements, 'data' has 2"),
        ("FP32", [2], ["a", "b"], "FP32 data must be numbers"),
        ("INT32", [1], [1.5], "INT32 data must be integers"),
        ("BOOL", [1], [1], "BOOL data must be true or false"),
        ("UINT8", [1], [256], "outside the range of UINT8"),
        ("INT8", [1], [-129], "outside the range of INT8"),
        ("FP32", [2, 2], [[1, 2], [3]], "not a regular nested list"),
        ("BYTES", [2], [["a"], ["b", "c"]], "not a regular nested list"),
        ("BYTES", [1], [3], "BYTES elements must be strings"),
        ("FP32", [1], {"a": 1}, "'data' must be a list"),
    ],
)
def test_malformed_values_are_refused(datatype: str, shape: list, values: object, message: str) -> None:
    with pytest.raises(TensorError, match=message):
        from_values("T", datatype, shape, values)


def binary_body(header: dict, *blobs: bytes) -> tuple[bytes, str]:
    encoded = json.dumps(header).encode()
    return encoded + b"".join(blobs), str(len(encoded))


def test_a_binary_request_takes_each_inputs_bytes_in_order() -> None:
    boxes = np.array([[1, 2, 3, 4]], np.float32).tobytes()
    image = struct.pack("<I", 3) + b"jpg"
    body, length = binary_body(
        {
            "id": "r1",
            "inputs": [
                {"name": "IMAGE", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 7}},
                {"name": "FLIP", "datatype": "BOOL", "shape": [1], "data": [False]},
                {
                    "name": "BOXES",
                    "datatype": "FP32",
                    "shape": [1, 4],
                    "parameters": {"binary_data_size": 16},
                },
            ],
            "outputs": [{"name": "KEYPOINTS", "parameters": {"binary_data": True}}, {"name": "PERSON_BOXES"}],
        },
        image,
        boxes,
    )
    request = read_infer_request(body, length)
    assert request.id == "r1"
    assert [t.name for t in request.inputs] == ["IMAGE", "FLIP", "BOXES"]
    assert request.inputs[0].data.tolist() == [b"jpg"] and request.inputs[1].data.tolist() == [False]
    assert request.inputs[2].data.tolist() == [[1, 2, 3, 4]]
    assert request.outputs == [RequestedOutput("KEYPOINTS", True), RequestedOutput("PERSON_BOXES", False)]


JSON_LENGTH = "the JSON's length"
FLOAT = {"name": "B", "datatype": "FP32", "shape": [1]}


@pytest.mark.parametrize(
    ("header", "blobs", "length", "message"),
    [
        ({"inputs": []}, [b"abc"], None, "not valid JSON"),
        ({"inputs": [{**FLOAT, "parameters": {"binary_data_size": 8}}]}, [b"\x00" * 4], JSON_LENGTH,
         "runs past the end of the body"),
        ({"inputs": [{**FLOAT, "parameters": {"binary_data_size": 4}}]}, [b"\x00" * 8], JSON_LENGTH,
         "add up to 4"),
        ({"inputs": [{**FLOAT, "data": [1], "parameters": {"binary_data_size": 4}}]}, [b"\x00" * 4],
         JSON_LENGTH, "both 'data' and"),
        ({"inputs": [FLOAT]}, [], None, "neither 'data' nor"),
        ({"inputs": [{**FLOAT, "data": [1]}]}, [], "0", "must be an integer"),
        ({"inputs": [{**FLOAT, "data": [1]}]}, [], "x", "must be an integer"),
        ({"inputs": [{**FLOAT, "data": [1]}]}, [], "9999", "must be an integer"),
        ({"inputs": {"name": "B"}}, [], None, "'inputs' as a list"),
        ({"inputs": [7]}, [], None, "input 0 must be a JSON object"),
        ({"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]}, [], None, "needs 'name' as a string"),
        ({"inputs": [{**FLOAT, "shape": 1, "data": [1]}]}, [], None, "needs 'shape' as a list"),
        ({"inputs": [], "id": 5}, [], None, "'id' must be a string"),
        ({"inputs": [], "outputs": [{"name": "K", "parameters": {"binary_data": 1}}]}, [], None,
         "binary_data must be true or false"),
        ({"inputs": [], "parameters": {"binary_data_output": "yes"}}, [], None, "binary_data_output must be"),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused(header: dict, blobs: list, length: str | None, message: str) -> None:
    body, json_length = binary_body(header, *blobs)
    with pytest.raises((TensorError, ServiceError), match=message):
        read_infer_request(body, json_length if length == JSON_LENGTH else length)


def test_a_json_request_holding_too_many_values_is_told_to_use_binary() -> None:
    body = json.dumps(
        {"inputs": [{"name": "C", "datatype": "FP32", "shape": [2**20 + 1], "data": [0] * (2**20 + 1)}]}
    )
    with pytest.raises(ServiceError) as refused:
        read_infer_request(body.encode(), None)
    assert refused.value.status_code == 422 and "send large tensors in binary" in refused.value.message


def test_outputs_go_back_in_binary_only_where_asked() -> None:
    keypoints = Tensor("KEYPOINTS", "FP32", np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    boxes = Tensor("PERSON_BOXES", "FP32", np.array([[1, 2, 3, 4]], np.float32))
    result = InferResult("m", "3", "r9", [keypoints, boxes])

    body, length = write_infer_result(result, InferRequest("r9", [], None))
    assert length is None
    assert json.loads(body)["outputs"][0] == {"name": "KEYPOINTS", "datatype": "FP32", "shape": [1, 2, 3],
                                              "data": [0, 1, 2, 3, 4, 5]}  # fmt: skip

    body, length = write_infer_result(result, InferRequest("r9", [], None, binary_outputs=True))
    header = json.loads(body[:length])
    assert header["id"] == "r9" and header["model_version"] == "3"
    assert [o["parameters"]["binary_data_size"] for o in header["outputs"]] == [24, 16]
    np.testing.assert_array_equal(np.frombuffer(body[length : length + 24], "<f4"), np.arange(6))
    np.testing.assert_array_equal(np.frombuffer(body[length + 24 :], "<f4"), [1, 2, 3, 4])

    mixed = InferRequest("", [], [RequestedOutput("PERSON_BOXES", True), RequestedOutput("KEYPOINTS", False)])
    body, length = write_infer_result(InferResult("m", "3", "", [boxes, keypoints]), mixed)
    header = json.loads(body[:length])
    assert "id" not in header
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 16} and "data" in header["outputs"][1]
