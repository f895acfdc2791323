"""POST /v1/pose?render=png (or Accept: image/png): the image with the skeletons core.drawing draws."""

import io
import json

import cv2
import httpx
import numpy as np
import pytest
from helpers import MPII_IMAGES, post_pose
from PIL import Image
from service_helpers import decoded_pixels

from core.drawing import SIDE_COLORS, draw_poses
from service.api.pose import wants_png

pytestmark = pytest.mark.slow

IMAGE = MPII_IMAGES / "005808361.jpg"
PERSONS = [{"box": [700, 120, 1100, 600]}, {"box": [150, 100, 500, 700]}]


def post(url: str, query: str = "", headers: dict[str, str] | None = None, **fields: str) -> httpx.Response:
    """The test image and its two persons, with the query, headers and form fields given."""
    return post_pose(url, IMAGE.read_bytes(), PERSONS, query, headers, **fields)


def png_pixels(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def expected_drawing(body: dict) -> np.ndarray:
    """What core.drawing draws for the JSON answer on the image the service decoded, as RGB."""
    keypoints = np.array([[[k["x"], k["y"]] for k in p["keypoints"]] for p in body["persons"]])
    scores = np.array([[k["score"] for k in p["keypoints"]] for p in body["persons"]])
    boxes = np.array([p["box"] for p in body["persons"]])
    bgr = cv2.cvtColor(decoded_pixels(IMAGE.read_bytes()), cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(draw_poses(bgr, keypoints, scores, boxes), cv2.COLOR_BGR2RGB)


def test_render_png_is_the_json_answer_drawn_by_core(service_url: str) -> None:
    body = post(service_url).json()
    response = post(service_url, "?render=png")
    drawn, response_scale = png_pixels(response), response.headers["x-render-scale"]
    expected = expected_drawing(body)
    assert drawn.shape == (720, 1280, 3)
    np.testing.assert_array_equal(drawn, expected)
    assert response_scale == "1"  # the image is under render_max_side: drawn at its own size
    assert not np.array_equal(drawn, decoded_pixels(IMAGE.read_bytes()))  # something was drawn
    # The joints are in their side colours (RGB here): the first person's crop, pelvis included, is inside.
    x, y = np.rint([body["persons"][0]["keypoints"][6][k] for k in ("x", "y")]).astype(int)
    assert tuple(drawn[y, x]) == SIDE_COLORS["center"][::-1]


def test_accept_image_png_renders_and_json_wins_when_both_are_accepted(service_url: str) -> None:
    png = png_pixels(post(service_url, headers={"Accept": "image/png"}))
    np.testing.assert_array_equal(png, png_pixels(post(service_url, "?render=png")))
    both = post(service_url, headers={"Accept": "image/png, application/json"})
    assert both.headers["content-type"] == "application/json"


def test_render_png_with_flip_off_and_errors_stay_json(service_url: str) -> None:
    body = post(service_url, flip="false").json()
    np.testing.assert_array_equal(
        png_pixels(post(service_url, "?render=png", flip="false")), expected_drawing(body)
    )
    bad = httpx.post(
        f"{service_url}/v1/pose?render=png",
        files={"image": ("x.jpg", b"not an image", "image/jpeg")},
        data={"persons": json.dumps(PERSONS)},
        timeout=60,
    )
    assert bad.status_code == 400 and "not a recognised image" in bad.json()["detail"]
    unknown = post(service_url, "?render=gif")
    assert unknown.status_code == 422 and "render" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("render", "accept", "png"),
    [
        ("png", "", True),
        (None, "image/png", True),
        (None, "image/png;q=0.9, */*;q=0.1", True),
        (None, "image/png, application/json", False),
        (None, "*/*", False),
        (None, "", False),
    ],
)
def test_wants_png(render: str | None, accept: str, png: bool) -> None:
    assert wants_png(render, accept) is png


def test_an_image_larger_than_render_max_side_is_drawn_scaled_down(serve) -> None:
    url = serve(render_max_side=320)
    body = post(url).json()
    response = post(url, "?render=png")
    drawn = png_pixels(response)
    assert drawn.shape == (180, 320, 3)  # 1280 x 720 at 320 / 1280
    assert response.headers["x-render-scale"] == "0.25"
    plain = np.asarray(Image.open(IMAGE).convert("RGB").resize((320, 180), Image.Resampling.BOX), np.int16)
    assert np.median(np.abs(drawn.astype(np.int16) - plain)) <= 2  # the same picture, scaled
    # The first person's pelvis is drawn at its scaled place, in the midline colour.
    pelvis = body["persons"][0]["keypoints"][6]
    x, y = np.rint([(pelvis["x"] + 0.5) * 0.25 - 0.5, (pelvis["y"] + 0.5) * 0.25 - 0.5]).astype(int)
    assert tuple(drawn[y, x]) == SIDE_COLORS["center"][::-1]
