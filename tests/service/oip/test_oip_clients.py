"""The Open Inference Protocol's own clients against the service: tritonclient over REST (binary and JSON)
and gRPC, and kserve's REST client (binary and JSON). Their keypoints and boxes equal /v1/pose's for the
same image and boxes (or, without boxes, for what the person detector finds); the bare network's heatmaps
decode to them too."""

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from helpers import MPII_IMAGES, REPO_ROOT, post_pose
from oip_helpers import OipService
from service_helpers import encode_image, random_image, response_keypoints
from tritonclient.utils import InferenceServerException

from core.codec import HeatmapCodec
from core.model_repo import read_metadata
from runtime.pipeline.images import decode_image
from runtime.pipeline.regions import crop_person, region_from_box

pytestmark = pytest.mark.slow

KSERVE_CLIENT = Path(__file__).with_name("kserve_rest_client.py")
PIXELS = random_image(120, 160, seed=21)
IMAGE = encode_image(PIXELS, "PNG")
BOXES = np.array([[10, 5, 90, 110], [70, 20, 150, 118]], np.float32)


def v1_answer(url: str, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """/v1/pose's keypoints as OIP's KEYPOINTS (x, y, score as float32) and its person boxes."""
    response = post_pose(url, IMAGE, [{"box": box} for box in BOXES.tolist()], flip=str(flip).lower())
    assert response.status_code == 200, response.text
    xy, scores = response_keypoints(response.json())
    boxes = np.array([person["box"] for person in response.json()["persons"]], np.float32)
    return np.concatenate([xy, scores[..., None]], axis=-1).astype(np.float32), boxes


def triton_inputs(client_module, binary: bool, flip: bool, image: bytes = IMAGE) -> list:
    """IMAGE, BOXES and FLIP as tritonclient builds them; IMAGE in base64 when it goes as JSON."""
    keywords = {"binary_data": binary} if client_module is triton_http else {}
    image_input = client_module.InferInput("IMAGE", [1], "BYTES")
    image_input.set_data_from_numpy(
        np.array([image if binary else base64.b64encode(image)], object), **keywords
    )
    boxes = client_module.InferInput("BOXES", list(BOXES.shape), "FP32")
    boxes.set_data_from_numpy(BOXES, **keywords)
    flip_input = client_module.InferInput("FLIP", [1], "BOOL")
    flip_input.set_data_from_numpy(np.array([flip]), **keywords)
    return [image_input, boxes, flip_input]


@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_http_answers_equal_v1_pose(oip: OipService, binary: bool, flip: bool) -> None:
    expected_keypoints, expected_boxes = v1_answer(oip.url, flip)
    client = triton_http.InferenceServerClient(oip.host_port)
    outputs = [triton_http.InferRequestedOutput(n, binary_data=binary) for n in ("KEYPOINTS", "PERSON_BOXES")]
    result = client.infer("tiny", triton_inputs(triton_http, binary, flip), outputs=outputs, request_id="r1")
    response = result.get_response()
    assert (response["model_name"], response["model_version"], response["id"]) == ("tiny", "1", "r1")
    binary_sizes = ["binary_data_size" in output.get("parameters", {}) for output in response["outputs"]]
    assert binary_sizes == [binary, binary]
    np.testing.assert_array_equal(result.as_numpy("KEYPOINTS"), expected_keypoints)
    np.testing.assert_array_equal(result.as_numpy("PERSON_BOXES"), expected_boxes)


def test_tritonclient_http_defaults_binary_outputs_and_sends_binary_inputs(oip: OipService) -> None:
    """No outputs named: tritonclient asks for every output in binary (binary_data_output)."""
    expected_keypoints, _ = v1_answer(oip.url, flip=True)
    client = triton_http.InferenceServerClient(oip.host_port)
    result = client.infer("tiny", triton_inputs(triton_http, binary=True, flip=True))
    assert [output["name"] for output in result.get_response()["outputs"]] == ["KEYPOINTS", "PERSON_BOXES"]
    np.testing.assert_array_equal(result.as_numpy("KEYPOINTS"), expected_keypoints)


@pytest.mark.parametrize("flip", [True, False])
def test_tritonclient_grpc_answers_equal_v1_pose(oip: OipService, flip: bool) -> None:
    expected_keypoints, expected_boxes = v1_answer(oip.url, flip)
    client = triton_grpc.InferenceServerClient(oip.grpc)
    result = client.infer("tiny", triton_inputs(triton_grpc, True, flip), model_version="1", request_id="g1")
    response = result.get_response()
    assert (response.model_name, response.model_version, response.id) == ("tiny", "1", "g1")
    np.testing.assert_array_equal(result.as_numpy("KEYPOINTS"), expected_keypoints)
    np.testing.assert_array_equal(result.as_numpy("PERSON_BOXES"), expected_boxes)


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_kserve_rest_client_answers_equal_v1_pose(oip: OipService, mode: str, tmp_path: Path) -> None:
    expected_keypoints, expected_boxes = v1_answer(oip.url, flip=True)
    image_file = tmp_path / "image.png"
    image_file.write_bytes(IMAGE)
    command = [
        sys.executable,
        str(KSERVE_CLIENT),
        oip.url,
        "tiny",
        str(image_file),
        json.dumps(BOXES.tolist()),
    ]
    run = subprocess.run([*command, mode, "flip"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout)
    assert answer["id"] == "kserve-1"
    outputs = answer["outputs"]
    assert (outputs["KEYPOINTS"]["datatype"], outputs["KEYPOINTS"]["shape"]) == ("FP32", [2, 16, 3])
    np.testing.assert_array_equal(np.array(outputs["KEYPOINTS"]["data"], np.float32), expected_keypoints)
    np.testing.assert_array_equal(np.array(outputs["PERSON_BOXES"]["data"], np.float32), expected_boxes)


def test_an_image_sent_as_uint8_bytes_answers_as_the_bytes_element(oip: OipService) -> None:
    """The form Triton's Python backend needs (UINT8 [n]) is taken too."""
    client = triton_http.InferenceServerClient(oip.host_port)
    inputs = triton_inputs(triton_http, binary=True, flip=True)
    inputs[0] = triton_http.InferInput("IMAGE", [len(IMAGE)], "UINT8")
    inputs[0].set_data_from_numpy(np.frombuffer(IMAGE, np.uint8))
    expected_keypoints, _ = v1_answer(oip.url, flip=True)
    np.testing.assert_array_equal(client.infer("tiny", inputs).as_numpy("KEYPOINTS"), expected_keypoints)


def test_only_the_requested_outputs_come_back(oip: OipService) -> None:
    client = triton_http.InferenceServerClient(oip.host_port)
    outputs = [triton_http.InferRequestedOutput("PERSON_BOXES")]
    result = client.infer("tiny", triton_inputs(triton_http, True, True), outputs=outputs)
    assert [output["name"] for output in result.get_response()["outputs"]] == ["PERSON_BOXES"]
    with pytest.raises(InferenceServerException, match="has no output 'HEATMAPS'"):
        client.infer(
            "tiny",
            triton_inputs(triton_http, True, True),
            outputs=[triton_http.InferRequestedOutput("HEATMAPS")],
        )


def test_the_bare_network_gives_the_heatmaps_the_pipeline_decodes(
    oip: OipService, tiny_model_repo: Path
) -> None:
    """tiny-net on the crops the pipeline makes (core's crop, the metadata's layout): decoded with core's
    codec, its heatmaps give /v1/pose's keypoints without flip; over REST and gRPC alike."""
    metadata = read_metadata(tiny_model_repo / "tiny" / "1")
    image = decode_image(IMAGE, 10**8)
    regions = [region_from_box(tuple(box), image.width, image.height) for box in BOXES.tolist()]
    size, pixel_scale = metadata.input.height, metadata.input.pixel_scale
    crops = np.stack([crop_person(image, region, size, pixel_scale) for region in regions])
    expected_keypoints, _ = v1_answer(oip.url, flip=False)

    for client_module, address in ((triton_http, oip.host_port), (triton_grpc, oip.grpc)):
        crops_input = client_module.InferInput("CROPS", list(crops.shape), "FP32")
        crops_input.set_data_from_numpy(crops)
        heatmaps = (
            client_module.InferenceServerClient(address).infer("tiny-net", [crops_input]).as_numpy("HEATMAPS")
        )
        assert heatmaps.shape == (2, 2, 16, 16, 16)  # persons, stacks, joints, heatmap height and width
        decoded = HeatmapCodec.from_metadata(metadata).decode(
            heatmaps[:, -1], np.stack([r.center for r in regions]), np.array([r.scale for r in regions])
        )
        np.testing.assert_allclose(decoded.image_xy, expected_keypoints[..., :2], atol=1e-3)
        np.testing.assert_allclose(decoded.scores, expected_keypoints[..., 2], atol=1e-5)


def test_metadata_and_health_over_both_protocols(oip: OipService) -> None:
    http = triton_http.InferenceServerClient(oip.host_port)
    grpc = triton_grpc.InferenceServerClient(oip.grpc)
    for client in (http, grpc):
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("tiny") and client.is_model_ready("tiny-net", "1")
    assert http.get_server_metadata() == {
        "name": "hourglass-pose",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data", "model_repository"],
    }
    assert grpc.get_server_metadata(as_json=True)["name"] == "hourglass-pose"

    pose = http.get_model_metadata("tiny")
    assert pose["versions"] == ["1"] and pose["platform"] == "onnxruntime"
    assert [(t["name"], t["datatype"], t["shape"]) for t in pose["inputs"]] == [
        ("IMAGE", "BYTES", [1]),
        ("BOXES", "FP32", [-1, 4]),
        ("FLIP", "BOOL", [1]),
    ]
    assert [(t["name"], t["datatype"], t["shape"]) for t in pose["outputs"]] == [
        ("KEYPOINTS", "FP32", [-1, 16, 3]),
        ("PERSON_BOXES", "FP32", [-1, 4]),
    ]
    assert pose["parameters"] == {
        "version": "1",
        "precision": "fp32",
        "backend": "onnxruntime",
        "backend_reason": "the backend setting names onnxruntime",
        "default_reason": "fp32, the newest export",
    }
    network = grpc.get_model_metadata("tiny-net", "1", as_json=True)
    assert network["inputs"] == [{"name": "CROPS", "datatype": "FP32", "shape": ["-1", "64", "64", "3"]}]
    assert network["outputs"] == [
        {"name": "HEATMAPS", "datatype": "FP32", "shape": ["-1", "2", "16", "16", "16"]}
    ]
    assert "default_reason" not in http.get_model_metadata("tiny", "1")["parameters"]


def test_without_boxes_the_person_detector_finds_the_persons_as_for_v1(
    launch_oip, tiny_model_repo: Path, tmp_path: Path
) -> None:
    """A repository with the shipped person detector beside the tiny pose model: IMAGE alone answers what
    /v1/pose without persons answers, the boxes found included; the detector is no OIP model itself."""
    repo = tmp_path / "repo"
    shutil.copytree(tiny_model_repo, repo)
    shutil.copytree(REPO_ROOT / "model_repo" / "person_detector" / "1", repo / "person_detector" / "1")
    service = launch_oip(repo)
    photo = (MPII_IMAGES / "005808361.jpg").read_bytes()
    v1 = httpx.post(
        f"{service.url}/v1/pose", files={"image": ("p.jpg", photo)}, data={"model": "tiny"}, timeout=120
    )
    assert v1.status_code == 200, v1.text
    xy, scores = response_keypoints(v1.json())
    assert len(xy) >= 1, "the detector found nobody"
    boxes = np.array([person["box"] for person in v1.json()["persons"]], np.float32)

    client = triton_http.InferenceServerClient(service.host_port)
    image = triton_http.InferInput("IMAGE", [1], "BYTES")
    image.set_data_from_numpy(np.array([photo], object))
    result = client.infer("tiny", [image])
    np.testing.assert_array_equal(result.as_numpy("PERSON_BOXES"), boxes)
    expected = np.concatenate([xy, scores[..., None]], axis=-1).astype(np.float32)
    np.testing.assert_array_equal(result.as_numpy("KEYPOINTS"), expected)
    with pytest.raises(
        InferenceServerException, match=r"unknown model 'person_detector' \(served: tiny, tiny-net\)"
    ):
        client.get_model_metadata("person_detector")
    assert {"name": "person_detector", "version": "1", "state": "READY", "reason": ""} in (
        client.get_model_repository_index()
    )
