"""POST /v1/pose over real HTTP against a real exported network (onnxruntime)."""

import base64
import io
import json
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import MPII_ANNOTATIONS, MPII_IMAGES, post_pose
from PIL import Image
from service_helpers import (
    decoded_pixels,
    encode_image,
    oracle_keypoints,
    random_image,
    response_keypoints,
)

from core.geometry import box_to_center_scale
from core.joints import JOINT_NAMES
from core.mpii import read_annotations

pytestmark = pytest.mark.slow


def test_keypoints_equal_core_decoder_on_network_output_for_mpii_image(
    service_url: str, tiny_model_repo: Path
) -> None:
    annotations = read_annotations(MPII_ANNOTATIONS).subset(2)
    data = (MPII_IMAGES / annotations.imgname[0]).read_bytes()
    centers, scales = annotations.center[:1], annotations.scale[:1]
    persons = [{"center": centers[0].tolist(), "scale": float(scales[0])}]

    response = post_pose(service_url, data, persons)

    assert response.status_code == 200, response.text
    body = response.json()
    expected = oracle_keypoints(tiny_model_repo / "tiny" / "1", decoded_pixels(data), centers, scales)
    xy, scores = response_keypoints(body)
    np.testing.assert_allclose(xy, expected.image_xy, atol=1e-4)
    np.testing.assert_allclose(scores, expected.scores, atol=1e-5)
    assert [k["name"] for k in body["persons"][0]["keypoints"]] == list(JOINT_NAMES)
    assert body["model"] == {"name": "tiny", "version": 1, "backend": "onnxruntime", "precision": "fp32"}
    assert body["image"] == {"width": 1280, "height": 720}
    assert body["persons"][0]["scale"] == pytest.approx(scales[0])
    assert set(body["timing_ms"]) >= {"decode_image", "queue_wait", "inference", "total"}


@pytest.mark.parametrize("flip", [True, False])
def test_box_persons_match_oracle_with_and_without_flip(
    service_url: str, tiny_model_repo: Path, flip: bool
) -> None:
    pixels = random_image(180, 240, seed=1)
    data = encode_image(pixels, "PNG")
    boxes = [[20, 10, 120, 170], [100.5, 40.25, 230, 150]]
    regions = [box_to_center_scale(np.array(b, float)) for b in boxes]

    response = post_pose(service_url, data, [{"box": b} for b in boxes], flip=str(flip).lower())

    assert response.status_code == 200, response.text
    expected = oracle_keypoints(
        tiny_model_repo / "tiny" / "1",
        pixels,
        np.array([c for c, _ in regions]),
        np.array([s for _, s in regions]),
        flip=flip,
    )
    xy, scores = response_keypoints(response.json())
    np.testing.assert_allclose(xy, expected.image_xy, atol=1e-4)
    np.testing.assert_allclose(scores, expected.scores, atol=1e-5)
    assert response.json()["persons"][1]["box"] == boxes[1]


def test_flip_changes_the_result(service_url: str) -> None:
    data = encode_image(random_image(128, 128, seed=2), "PNG")
    persons = [{"box": [10, 10, 110, 120]}]
    with_flip = response_keypoints(post_pose(service_url, data, persons).json())[1]
    without = response_keypoints(post_pose(service_url, data, persons, flip="false").json())[1]
    assert not np.allclose(with_flip, without)


def test_json_form_equals_multipart_form(service_url: str) -> None:
    data = encode_image(random_image(150, 200, seed=3), "JPEG", quality=90)
    persons = [{"box": [30, 20, 160, 140]}, {"center": [100, 75], "scale": 0.6}]
    multipart = post_pose(service_url, data, persons, model="tiny", version="1", flip="true")
    as_json = httpx.post(
        f"{service_url}/v1/pose",
        json={"image_base64": b64(data), "persons": persons, "model": "tiny", "version": 1, "flip": True},
        timeout=60,
    )
    assert multipart.status_code == as_json.status_code == 200, as_json.text
    assert multipart.json()["persons"] == as_json.json()["persons"]


@pytest.mark.parametrize(("fmt", "options"), [("BMP", {}), ("WEBP", {"lossless": True}), ("PNG", {})])
def test_lossless_formats_decode_to_the_same_pixels(service_url: str, fmt: str, options: dict) -> None:
    pixels = random_image(96, 128, seed=4)
    persons = [{"box": [5, 5, 120, 90]}]
    reference = post_pose(service_url, encode_image(pixels, "PNG"), persons)
    other = post_pose(service_url, encode_image(pixels, fmt, **options), persons)
    assert other.status_code == 200, other.text
    assert other.json()["persons"] == reference.json()["persons"]


def test_exif_orientation_is_applied(service_url: str) -> None:
    """A JPEG stored sideways with EXIF orientation 6 equals the upright image (same pixels, rotated)."""
    upright = random_image(120, 80, seed=5)
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # 90° counter-clockwise; orientation 6 undoes it
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, "JPEG", quality=100, subsampling=0, exif=exif.tobytes())
    persons = [{"box": [10, 10, 70, 110]}]

    rotated = post_pose(service_url, buffer.getvalue(), persons)
    reference = post_pose(service_url, encode_image(upright, "PNG"), persons)

    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["image"] == {"width": 80, "height": 120}
    np.testing.assert_allclose(
        response_keypoints(rotated.json())[0], response_keypoints(reference.json())[0], atol=3.0
    )


def _truncated_jpeg() -> bytes:
    data = encode_image(random_image(64, 64, seed=6), "JPEG")
    return data[: len(data) // 2]


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(random_image(32, 32, seed=7)).save(buffer, "GIF")
    return buffer.getvalue()


GOOD_IMAGE = encode_image(random_image(100, 100, seed=8), "PNG")
GOOD_PERSONS = [{"box": [10, 10, 90, 90]}]
GOOD_FILE = ("i.png", GOOD_IMAGE)
JSON_TYPE = {"content-type": "application/json"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


DEEP = "[" * 100_000 + "]" * 100_000  # json.loads would raise RecursionError on it


@pytest.mark.parametrize(
    ("image", "persons", "fields", "status", "message"),
    [
        (b"this is not an image", GOOD_PERSONS, {}, 400, "not a recognised image"),
        (_truncated_jpeg(), GOOD_PERSONS, {}, 400, "truncated"),
        (_gif(), GOOD_PERSONS, {}, 415, "unsupported image type GIF"),
        (b"", GOOD_PERSONS, {}, 400, "empty"),
        (GOOD_IMAGE, [{"box": [50, 50, 50, 80]}], {}, 422, "empty"),
        (GOOD_IMAGE, [{"box": [60, 50, 40, 80]}], {}, 422, "x2 > x1"),
        (GOOD_IMAGE, [{"box": [200, 200, 300, 300]}], {}, 422, "outside"),
        (GOOD_IMAGE, [{"center": [-500, -500], "scale": 1.0}], {}, 422, "outside"),
        (GOOD_IMAGE, [{"center": [50, 50], "scale": -1.0}], {}, 422, "scale"),
        (GOOD_IMAGE, [{"box": [1, 2, 3]}], {}, 422, "persons.0.box"),
        (GOOD_IMAGE, [{"box": [10, 10, 90, 90], "center": [5, 5], "scale": 1}], {}, 422, "either 'box'"),
        (GOOD_IMAGE, [{"center": [5, 5]}], {}, 422, "'scale'"),
        (GOOD_IMAGE, [], {}, 422, "persons"),
        (GOOD_IMAGE, GOOD_PERSONS * 17, {}, 422, "too many persons: 17"),
        (GOOD_IMAGE, GOOD_PERSONS, {"model": "nosuch"}, 404, "unknown model 'nosuch'"),
        (GOOD_IMAGE, GOOD_PERSONS, {"version": "7"}, 404, "no version 7"),
        (GOOD_IMAGE, GOOD_PERSONS, {"version": "latest"}, 422, "version"),
        (GOOD_IMAGE, GOOD_PERSONS, {"flip": "maybe"}, 422, "flip"),
        (GOOD_IMAGE, GOOD_PERSONS, {"colour": "red"}, 422, "colour"),
        (GOOD_IMAGE, [{"box": [-1e308, -1e308, 1e308, 1e308]}], {}, 422, "times the 100x100 image"),
        (GOOD_IMAGE, [{"center": [100, 100], "scale": 1e306}], {}, 422, "times the 100x100 image"),
        (GOOD_IMAGE, [{"box": [400.0, 10, 20, 30]}], {}, 422, "box [400.0, 10.0, 20.0, 30.0] is empty"),
        (GOOD_IMAGE, [{"box": [True, 10, 90, 90]}], {}, 422, "persons.0.box.0"),
        (GOOD_IMAGE, [{"box": [10, 10, 10 + 1e-9, 90]}], {}, 422, "at least 1 pixel"),
        (GOOD_IMAGE, [{"box": [10, 50, 90, 50.5]}], {}, 422, "at least 1 pixel"),
        (GOOD_IMAGE, [{"center": [50, 50], "scale": 1e-300}], {}, 422, "at least 1 pixel"),
        (GOOD_IMAGE, GOOD_PERSONS, {"version": "1.0"}, 422, "version"),
        (GOOD_IMAGE, GOOD_PERSONS, {"version": "01"}, 422, "version"),
        (GOOD_IMAGE, GOOD_PERSONS, {"version": "1_0"}, 422, "version"),
        (GOOD_IMAGE, GOOD_PERSONS, {"version": " 1"}, 422, "version"),
        (GOOD_IMAGE, GOOD_PERSONS, {"version": "9" * 5000}, 422, "version"),
        (GOOD_IMAGE, GOOD_PERSONS, {"flip": "1"}, 422, "flip"),
        (GOOD_IMAGE, GOOD_PERSONS, {"flip": "True"}, 422, "flip"),
        (GOOD_IMAGE, GOOD_PERSONS, {"detect_score_threshold": ".5"}, 422, "detect_score_threshold"),
        (GOOD_IMAGE, GOOD_PERSONS, {"detect_min_size": "nan"}, 422, "detect_min_size"),
        (GOOD_IMAGE, GOOD_PERSONS, {"detect_max_persons": "2.0"}, 422, "detect_max_persons"),
        (GOOD_IMAGE, GOOD_PERSONS, {"detect": "yes"}, 422, "detect"),
    ],
)
def test_bad_multipart_input_is_a_4xx_naming_the_problem(
    service_url: str, image: bytes, persons: list, fields: dict, status: int, message: str
) -> None:
    response = post_pose(service_url, image, persons, **fields)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"content": b'{"image_base64": "abc", "persons": [', "headers": JSON_TYPE}, 400, "not valid JSON"),
        ({"json": {"image_base64": "###", "persons": GOOD_PERSONS}}, 400, "image_base64 is not valid base64"),
        ({"json": {"persons": GOOD_PERSONS}}, 422, "image_base64"),
        ({"json": [1, 2]}, 422, "JSON body must be an object"),
        ({"json": {"image_base64": b64(GOOD_IMAGE), "persons": [{"box": [1, "x", 3, 4]}]}}, 422, "box.1"),
        ({"content": b"persons=1", "headers": {"content-type": "text/plain"}}, 415, "text/plain"),
        # no persons, and the tiny repository serves no detector to find them
        ({"files": {"image": ("i.png", GOOD_IMAGE)}}, 422, "no person detector is ready"),
        ({"data": {"persons": json.dumps(GOOD_PERSONS)}, "files": {"other": GOOD_FILE}}, 422, "'image'"),
        ({"data": {"persons": "[{"}, "files": {"image": GOOD_FILE}}, 400, "'persons' is not valid JSON"),
        ({"data": {"persons": DEEP}, "files": {"image": GOOD_FILE}}, 422, "brackets, braces and commas"),
        ({"data": {"persons": "[" * 90 + "]" * 90}, "files": {"image": GOOD_FILE}}, 422, "persons.0"),
        ({"content": b'{"persons": ' + DEEP.encode() + b"}", "headers": JSON_TYPE}, 422, "brackets, braces"),
        ({"content": b'{"image_base64": "", "persons": [{"box": [1, 2, 3, 1e999]}]}', "headers": JSON_TYPE},
         422, "box.3"),
        ({"content": b'{"persons": [{"box": [1, 2, 3, 1' + b"0" * 5000 + b"]}]}", "headers": JSON_TYPE}, 400,
         "not valid JSON"),
        ({"json": {"image_base64": b64(GOOD_IMAGE), "persons": GOOD_PERSONS, "version": True}}, 422,
         "version"),
        ({"json": {"image_base64": b64(GOOD_IMAGE), "persons": GOOD_PERSONS, "version": "1"}}, 422,
         "version"),
        ({"json": {"image_base64": b64(GOOD_IMAGE), "persons": GOOD_PERSONS, "version": 1.0}}, 422,
         "version"),
        ({"json": {"image_base64": b64(GOOD_IMAGE), "persons": GOOD_PERSONS, "flip": "false"}}, 422, "flip"),
        ({"json": {"image_base64": b64(GOOD_IMAGE), "persons": GOOD_PERSONS, "flip": 0}}, 422, "flip"),
        ({"json": {"image_base64": b64(GOOD_IMAGE), "persons": [{"box": [1, 2, 3, 4]}] * 1000}}, 422,
         "brackets, braces and commas"),
    ],
)  # fmt: skip
def test_bad_request_bodies_are_4xx_naming_the_problem(
    service_url: str, kwargs: dict, status: int, message: str
) -> None:
    response = httpx.post(f"{service_url}/v1/pose", timeout=60, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_json_nested_deeper_than_python_can_recurse_is_a_400(serve) -> None:
    """With a separator bound high enough to let the brackets through, the parser's depth limit answers."""
    depth = 2 * sys.getrecursionlimit()  # the service runs in this process
    url = serve(max_persons=depth, queue_size=2 * depth)
    nested = "[" * depth + "]" * depth
    body = f'{{"image_base64": "{b64(GOOD_IMAGE)}", "persons": {nested}}}'
    responses = [
        httpx.post(f"{url}/v1/pose", content=body, headers=JSON_TYPE, timeout=60),
        httpx.post(f"{url}/v1/pose", files={"image": GOOD_FILE}, data={"persons": nested}, timeout=60),
    ]
    for response in responses:
        assert response.status_code == 400, response.text
        assert "recursion limit exceeded" in response.json()["detail"]
        assert response.json()["request_id"] == response.headers["x-request-id"]


def test_base64_with_line_breaks_is_accepted(service_url: str) -> None:
    wrapped = base64.encodebytes(GOOD_IMAGE).decode()  # MIME: a line break every 76 characters
    assert "\n" in wrapped
    response = httpx.post(f"{service_url}/v1/pose", json={"image_base64": wrapped, "persons": GOOD_PERSONS})
    assert response.status_code == 200, response.text


def test_service_keeps_serving_after_bad_input(service_url: str) -> None:
    for _ in range(3):
        post_pose(service_url, b"\xff\xd8\xff garbage", GOOD_PERSONS)
    response = post_pose(service_url, GOOD_IMAGE, GOOD_PERSONS)
    assert response.status_code == 200


def test_request_id_is_echoed(service_url: str) -> None:
    response = httpx.get(f"{service_url}/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_openapi_documents_both_request_forms(service_url: str) -> None:
    spec = httpx.get(f"{service_url}/openapi.json").json()
    content = spec["paths"]["/v1/pose"]["post"]["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    assert httpx.get(f"{service_url}/docs").status_code == 200


def test_body_limit_is_413(serve) -> None:
    url = serve(max_body_bytes=10_000)
    big = encode_image(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8), "PNG")
    response = post_pose(url, big, GOOD_PERSONS)
    assert response.status_code == 413
    assert "limit is 10000 bytes" in response.json()["detail"]

    def chunks():
        yield big[:5000]
        yield big[5000:]

    streamed = httpx.post(f"{url}/v1/pose", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    small = encode_image(random_image(40, 40, seed=10), "PNG")
    assert post_pose(url, small, [{"box": [0, 0, 30, 30]}]).status_code == 200


def test_decoded_pixel_limit_is_413(serve) -> None:
    url = serve(max_image_pixels=100 * 100)
    response = post_pose(url, encode_image(random_image(101, 100, seed=9), "PNG"), GOOD_PERSONS)
    assert response.status_code == 413
    assert "101x100" in response.json()["detail"] or "100x101" in response.json()["detail"]
    assert post_pose(url, GOOD_IMAGE, GOOD_PERSONS).status_code == 200


def test_api_key(serve) -> None:
    url = serve(api_key="s3cret")
    assert post_pose(url, GOOD_IMAGE, GOOD_PERSONS).status_code == 401
    wrong = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "wrong" in wrong.json()["detail"]
    assert wrong.headers["www-authenticate"] == "Bearer"
    right = httpx.post(
        f"{url}/v1/pose",
        files={"image": ("i.png", GOOD_IMAGE)},
        data={"persons": json.dumps(GOOD_PERSONS)},
        headers={"Authorization": "Bearer s3cret"},
    )
    assert right.status_code == 200
    assert httpx.get(f"{url}/health/ready").status_code == 200
    assert httpx.get(f"{url}/metrics").status_code == 200


def test_metrics_count_requests_queue_wait_and_batches(serve) -> None:
    url = serve()
    assert post_pose(url, GOOD_IMAGE, GOOD_PERSONS * 2).status_code == 200
    assert post_pose(url, b"nope", GOOD_PERSONS).status_code == 400
    text = httpx.get(f"{url}/metrics").text
    assert 'hgpose_requests_total{method="POST",route="/v1/pose",status="200"} 1.0' in text
    assert 'hgpose_requests_total{method="POST",route="/v1/pose",status="400"} 1.0' in text
    assert 'hgpose_request_duration_seconds_count{route="/v1/pose"} 2.0' in text
    assert 'hgpose_queue_wait_seconds_count{model="tiny:1"} 1.0' in text
    assert 'hgpose_inference_seconds_count{model="tiny:1"}' in text
    assert 'hgpose_batch_size_sum{model="tiny:1"} 4.0' in text  # 2 persons, each with its flip copy


def test_an_unknown_model_name_is_cut_in_the_404(service_url: str) -> None:
    name = "m" * 1_000_000
    response = httpx.post(
        f"{service_url}/v1/pose",
        json={"image_base64": b64(GOOD_IMAGE), "persons": GOOD_PERSONS, "model": name},
    )
    assert response.status_code == 404 and len(response.content) < 1000, len(response.content)
    assert (
        "unknown model 'mmm" in response.json()["detail"]
        and "1000000 characters" in response.json()["detail"]
    )
    load = httpx.post(f"{service_url}/v1/repository/models/{'n' * 8000}/load")
    assert load.status_code == 404 and len(load.content) < 1000
