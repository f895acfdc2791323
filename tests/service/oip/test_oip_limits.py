"""Errors and limits of the Open Inference Protocol, over REST and gRPC: `{"error": ...}` bodies and status
codes; the API key, body limit, admission (full queue) and deadline hold as on /v1; the repository
extension."""

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from oip_helpers import OipService
from service_helpers import encode_image, random_image, wait_for_queued_crops
from tritonclient.utils import InferenceServerException

from service.oip.proto import message_class
from service.settings import Settings

pytestmark = pytest.mark.slow

IMAGE = encode_image(random_image(64, 64, seed=2), "PNG")
BOX = [[5.0, 5.0, 60.0, 60.0]]


def rest_request(image: bytes = IMAGE, boxes: list | None = BOX, **extra_inputs: Any) -> tuple[bytes, dict]:
    """A binary-extension infer body as tritonclient sends it: IMAGE raw, BOXES and extra inputs as JSON."""
    image_raw = len(image).to_bytes(4, "little") + image
    inputs: list[dict[str, Any]] = [
        {
            "name": "IMAGE",
            "datatype": "BYTES",
            "shape": [1],
            "parameters": {"binary_data_size": len(image_raw)},
        }
    ]
    if boxes is not None:
        inputs.append({"name": "BOXES", "datatype": "FP32", "shape": [len(boxes), 4], "data": boxes})
    inputs += [{"name": name, **tensor} for name, tensor in extra_inputs.items()]
    header = json.dumps({"inputs": inputs}).encode()
    return header + image_raw, {"Inference-Header-Content-Length": str(len(header))}


def grpc_request(
    image: bytes = IMAGE, boxes: list | None = BOX, model: str = "tiny", version: str = ""
) -> Any:
    request = message_class("ModelInferRequest")(model_name=model, model_version=version)
    request.inputs.add(name="IMAGE", datatype="BYTES", shape=[1]).contents.bytes_contents.append(image)
    if boxes is not None:
        tensor = request.inputs.add(name="BOXES", datatype="FP32", shape=[len(boxes), 4])
        tensor.contents.fp32_contents.extend(np.ravel(boxes).tolist())
    return request


def grpc_call(
    service: OipService, method: str, request: Any, metadata: tuple = (), timeout: float = 60
) -> Any:
    """One call of inference.GRPCInferenceService/`method` on a fresh channel."""
    response_class = message_class(f"{method}Response")
    with grpc.insecure_channel(service.grpc) as channel:
        call = channel.unary_unary(
            f"/inference.GRPCInferenceService/{method}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        return call(request, metadata=metadata, timeout=timeout)


def grpc_error(service: OipService, method: str, request: Any, metadata: tuple = ()) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        grpc_call(service, method, request, metadata)
    return failure.value


def infer_url(service: OipService, model: str = "tiny", version: str = "") -> str:
    return f"{service.url}/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"


@pytest.mark.parametrize(
    ("body_and_headers", "model", "version", "status", "message"),
    [
        (rest_request(boxes=None), "tiny", "", 422, "no persons were given and no person detector is ready"),
        (rest_request(boxes=[[5, 5, 60]]), "tiny", "", 400,
         "tensor 'BOXES': shape [1, 4] holds 4 elements, 'data' has 3"),
        (rest_request(FLIP={"datatype": "INT32", "shape": [1], "data": [1]}), "tiny", "", 400,
         "FLIP is one BOOL (shape [1]), got INT32"),
        (rest_request(EXTRA={"datatype": "FP32", "shape": [1], "data": [1]}), "tiny", "", 400,
         "model 'tiny' has no input 'EXTRA' (inputs: BOXES, FLIP, IMAGE)"),
        (rest_request(image=b"no image"), "tiny", "", 400, "not a recognised image"),
        (rest_request(boxes=[[500, 500, 600, 600]]), "tiny", "", 422, "is outside the 64x64 image"),
        (rest_request(), "nobody", "", 404, "unknown model 'nobody' (served: tiny, tiny-net)"),
        (rest_request(), "tiny", "2", 404, "model 'tiny' has no version 2 (has 1)"),
        (rest_request(), "tiny", "01", 404, "model 'tiny' has no version '01'"),
        (rest_request(), "tiny-net", "", 400, "model 'tiny-net' has no input 'IMAGE' (inputs: CROPS)"),
        ((b'{"inputs": [}', {}), "tiny", "", 400, "the inference request is not valid JSON"),
        ((b'{"inputs": []}', {"Inference-Header-Content-Length": "-3"}), "tiny", "", 400,
         "Inference-Header-Content-Length must be an integer"),
        ((b"\x1f\x8b...", {"Content-Encoding": "gzip"}), "tiny", "", 415,
         "Content-Encoding 'gzip' is not taken: send the body uncompressed"),
    ],
)  # fmt: skip
def test_bad_requests_get_the_status_and_an_error_body_naming_the_problem(
    oip: OipService, body_and_headers: tuple[bytes, dict], model: str, version: str, status: int, message: str
) -> None:
    body, headers = body_and_headers
    response = httpx.post(infer_url(oip, model, version), content=body, headers=headers, timeout=60)
    assert response.status_code == status, response.text
    assert response.json() == {"error": response.json()["error"]} and message in response.json()["error"]


def test_unknown_routes_and_methods_under_v2_answer_the_error_body(oip: OipService) -> None:
    missing = httpx.get(f"{oip.url}/v2/nowhere")
    assert (missing.status_code, missing.json()) == (404, {"error": "Not Found"})
    wrong_method = httpx.get(infer_url(oip))
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"error": "Method Not Allowed"})
    assert "detail" in httpx.get(f"{oip.url}/v1/nowhere").json()  # /v1 keeps its own body


@pytest.mark.parametrize(
    ("request_kwargs", "code", "message"),
    [
        ({"boxes": None}, grpc.StatusCode.INVALID_ARGUMENT, "no person detector is ready"),
        ({"image": b"no image"}, grpc.StatusCode.INVALID_ARGUMENT, "not a recognised image"),
        ({"model": "nobody"}, grpc.StatusCode.NOT_FOUND, "unknown model 'nobody'"),
        ({"version": "7"}, grpc.StatusCode.NOT_FOUND, "has no version 7"),
        ({"model": "tiny-net"}, grpc.StatusCode.INVALID_ARGUMENT, "has no input 'IMAGE'"),
    ],
)
def test_bad_grpc_calls_get_the_status_code_and_message(
    oip: OipService, request_kwargs: dict, code: grpc.StatusCode, message: str
) -> None:
    error = grpc_error(oip, "ModelInfer", grpc_request(**request_kwargs))
    assert error.code() == code and message in error.details()


def test_malformed_grpc_tensors_are_invalid_arguments(oip: OipService) -> None:
    request = grpc_request()
    request.raw_input_contents.append(b"\x00")
    assert "raw_input_contents has 1 entries for 2 inputs" in grpc_error(oip, "ModelInfer", request).details()
    request = message_class("ModelInferRequest")(model_name="tiny")
    request.inputs.add(name="BOXES", datatype="FP16", shape=[1, 4])
    assert "FP16 travels as raw_input_contents only" in grpc_error(oip, "ModelInfer", request).details()


def test_the_api_key_guards_both_protocols_but_not_their_health(
    launch_oip: Callable[..., OipService],
) -> None:
    service = launch_oip(api_key="s3cret")
    body, headers = rest_request()
    refused = httpx.post(infer_url(service), content=body, headers=headers)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "needs an API key" in refused.json()["error"]
    wrong = httpx.post(infer_url(service), content=body, headers={**headers, "Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "the API key is wrong"})
    for path in ("", "/models/tiny", "/models/tiny/ready"):
        assert httpx.get(f"{service.url}/v2{path}").status_code == 401, path
    assert httpx.post(f"{service.url}/v2/repository/index").status_code == 401
    for path in ("/health/live", "/health/ready"):
        assert httpx.get(f"{service.url}/v2{path}").status_code == 200, path
    granted = httpx.post(
        infer_url(service), content=body, headers={**headers, "Authorization": "Bearer s3cret"}
    )
    assert granted.status_code == 200, granted.text

    assert grpc_error(service, "ModelInfer", grpc_request()).code() == grpc.StatusCode.UNAUTHENTICATED
    wrong_key = grpc_error(service, "ModelInfer", grpc_request(), (("authorization", "Bearer nope"),))
    assert (wrong_key.code(), wrong_key.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "the API key is wrong",
    )
    assert grpc_error(
        service, "ModelMetadata", message_class("ModelMetadataRequest")(name="tiny")
    ).code() == (grpc.StatusCode.UNAUTHENTICATED)
    client = triton_grpc.InferenceServerClient(service.grpc)
    assert client.is_server_live() and client.is_server_ready()
    keyed = client.get_model_metadata("tiny", headers={"authorization": "Bearer s3cret"})
    assert keyed.name == "tiny"


def test_the_body_limit_holds_for_both_protocols(launch_oip: Callable[..., OipService]) -> None:
    service = launch_oip(max_body_bytes=20_000)
    big_image = encode_image(np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8), "PNG")
    assert len(big_image) > 20_000
    body, headers = rest_request(image=big_image)
    refused = httpx.post(infer_url(service), content=body, headers=headers)
    assert refused.status_code == 413 and "the limit is 20000 bytes" in refused.json()["error"]
    error = grpc_error(service, "ModelInfer", grpc_request(image=big_image))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert grpc_call(service, "ModelInfer", grpc_request()).model_version == "1"  # a small one passes


def test_a_full_queue_refuses_both_protocols(launch_oip: Callable[..., OipService]) -> None:
    service = launch_oip(queue_size=4, max_persons=2, max_batch=16, max_wait_ms=4000, retry_after_s=3)
    body, headers = rest_request()
    waiting = [
        threading.Thread(
            target=httpx.post, args=(infer_url(service),), kwargs={"content": body, "headers": headers}
        )
        for _ in range(2)
    ]
    for thread in waiting:
        thread.start()
    wait_for_queued_crops(service.url, 4)  # two requests of 2 crops (flip) fill the queue of 4
    refused = httpx.post(infer_url(service), content=body, headers=headers)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
    assert "the inference queue is full" in refused.json()["error"]
    error = grpc_error(service, "ModelInfer", grpc_request())
    assert error.code() == grpc.StatusCode.UNAVAILABLE and "queue is full" in error.details()
    for thread in waiting:
        thread.join()


def test_a_request_past_its_deadline_is_refused_in_both_protocols(
    launch_oip: Callable[..., OipService],
) -> None:
    service = launch_oip(request_deadline_ms=300, max_batch=16, max_wait_ms=5000)
    body, headers = rest_request()
    started = time.monotonic()
    late = httpx.post(infer_url(service), content=body, headers=headers, timeout=30)
    assert late.status_code == 504
    assert late.json() == {"error": "the request did not finish within its deadline of 300 ms"}
    error = grpc_error(service, "ModelInfer", grpc_request())
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert error.details() == "the request did not finish within its deadline of 300 ms"
    assert time.monotonic() - started < 4.0, "the deadline did not cut the 5 s batch waits short"


def test_a_grpc_call_with_a_sooner_deadline_of_its_own_leaves_the_queue_then(
    launch_oip: Callable[..., OipService],
) -> None:
    service = launch_oip(max_batch=16, max_wait_ms=5000)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failure:
        grpc_call(service, "ModelInfer", grpc_request(), timeout=0.5)
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_for_queued_crops(service.url, 0, timeout_s=2.0)
    assert time.monotonic() - started < 4.0


def test_the_repository_extension_over_rest(launch_oip: Callable[..., OipService]) -> None:
    service = launch_oip()
    client = triton_http.InferenceServerClient(service.host_port)
    assert client.get_model_repository_index() == [
        {"name": "tiny", "version": "1", "state": "READY", "reason": ""}
    ]
    client.unload_model("tiny-net")  # either of its OIP names unloads the repository model
    unloaded = {"name": "tiny", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded on request"}
    index = client.get_model_repository_index()
    assert unloaded in index  # beside an UNLOADING entry until the version is released
    deadline = time.monotonic() + 10
    while index != [unloaded] and time.monotonic() < deadline:
        time.sleep(0.05)
        index = client.get_model_repository_index()
    assert index == [unloaded]
    ready_only = httpx.post(f"{service.url}/v2/repository/index", json={"ready": True})
    assert ready_only.json() == []
    with pytest.raises(InferenceServerException, match="unknown model 'tiny'"):
        client.get_model_metadata("tiny")
    client.load_model("tiny")
    assert client.is_model_ready("tiny")
    missing = httpx.post(f"{service.url}/v2/repository/models/nobody/load")
    assert (missing.status_code, missing.json()) == (404, {"error": "the repository has no model 'nobody'"})
    assert httpx.post(f"{service.url}/v2/repository/models/tiny/unload").json() == {
        "name": "tiny",
        "unload": True,
    }
    assert httpx.post(f"{service.url}/v2/repository/models/tiny/load", json={}).json() == {
        "name": "tiny",
        "load": True,
    }


def test_the_repository_extension_over_grpc(launch_oip: Callable[..., OipService]) -> None:
    service = launch_oip()
    unloaded = grpc_call(
        service, "RepositoryModelUnload", message_class("RepositoryModelUnloadRequest")(model_name="tiny")
    )
    assert (unloaded.model_name, unloaded.isUnloaded) == ("tiny", True)
    assert grpc_error(service, "ModelInfer", grpc_request()).code() == grpc.StatusCode.NOT_FOUND
    loaded = grpc_call(
        service, "RepositoryModelLoad", message_class("RepositoryModelLoadRequest")(model_name="tiny")
    )
    assert (loaded.model_name, loaded.isLoaded) == ("tiny", True)
    assert grpc_call(service, "ModelInfer", grpc_request()).model_version == "1"
    unnamed = grpc_error(service, "RepositoryModelLoad", message_class("RepositoryModelLoadRequest")())
    assert unnamed.code() == grpc.StatusCode.INVALID_ARGUMENT and "tritonclient" in unnamed.details()


def test_grpc_is_off_unless_a_port_is_set_and_a_taken_port_stops_the_start(
    launch_service, tiny_model_repo: Path
) -> None:
    assert Settings().grpc_port == 0 and Settings(grpc_port="").grpc_port == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(RuntimeError, match="exited") as failure,
            launch_service(tiny_model_repo, env={"HGPOSE_GRPC_PORT": str(port)}),
        ):
            pass
    assert str(port) in str(failure.value)
