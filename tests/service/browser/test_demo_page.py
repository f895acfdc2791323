"""The demo page at / in headless Chromium against the real service (tiny random-weight model, in-thread).

The checks read what the page actually drew: pixels of its skeleton canvas at the positions the service's
JSON gives, the boxes the service echoes back, the messages on the page.
"""

import json
import math
from pathlib import Path

import httpx
import numpy as np
import pytest
from browser_helpers import (
    MARKER_CSS_PX,
    assert_shown_joints_drawn,
    canvas_pixels,
    choose_image,
    drag,
    draw_box,
    estimate,
    image_per_css_px,
    image_to_page,
    open_demo,
    screenshot,
    segment_distance,
)
from helpers import MPII_IMAGES
from PIL import Image
from playwright.sync_api import Page, expect

from core.joints import JOINT_NAMES, NUM_JOINTS

pytestmark = pytest.mark.slow

MPII_IMAGE = MPII_IMAGES / "005808361.jpg"  # 1280 x 720
# Its padded square crop (x 600..1200, y 60..660) lies inside the image, so every keypoint does too.
PERSON_BOX = (700.0, 120.0, 1100.0, 600.0)


@pytest.fixture(scope="module")
def skeleton(service_url: str) -> dict:
    return httpx.get(f"{service_url}/demo/skeleton", timeout=10).json()


def _clear_points(body: dict, skeleton: dict, threshold: float, clearance: float) -> list[dict]:
    """Joints under the threshold that are farther than `clearance` from every shown joint and limb."""
    index = {name: j for j, name in enumerate(JOINT_NAMES)}
    limbs = [(index[a], index[b]) for a, b in (limb["joints"] for limb in skeleton["limbs"])]
    clear = []
    for person in body["persons"]:
        xy = np.array([[k["x"], k["y"]] for k in person["keypoints"]])
        shown = np.array([k["score"] >= threshold for k in person["keypoints"]])
        segments = [(xy[a], xy[b]) for a, b in limbs if shown[a] and shown[b]]
        for j, keypoint in enumerate(person["keypoints"]):
            if shown[j]:
                continue
            distances = [np.linalg.norm(xy[j] - xy[s]) for s in np.flatnonzero(shown)]
            distances += [segment_distance(xy[j], a, b) for a, b in segments]
            x1, y1, x2, y2 = person["box"]
            distances += [abs(xy[j, 0] - x1), abs(xy[j, 0] - x2), abs(xy[j, 1] - y1), abs(xy[j, 1] - y2)]
            if min(distances) > clearance:
                clear.append(keypoint)
    return clear


def test_a_box_drawn_with_the_mouse_gets_16_keypoints_drawn_where_the_json_puts_them(
    page: Page, service_url: str, skeleton: dict
) -> None:
    open_demo(page, service_url)
    choose_image(page, MPII_IMAGE)
    draw_box(page, PERSON_BOX)
    expect(page.locator(".box")).to_have_count(1)
    response = estimate(page)
    assert response.status == 200
    body = response.json()
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")

    assert len(body["persons"]) == 1
    tolerance = 2 * image_per_css_px(page)
    assert np.allclose(body["persons"][0]["box"], PERSON_BOX, atol=tolerance)
    keypoints = body["persons"][0]["keypoints"]
    assert [k["name"] for k in keypoints] == list(JOINT_NAMES)
    assert_shown_joints_drawn(page, body, skeleton)
    # Nothing is drawn far from the person: the top-left corner of the canvas stays transparent.
    assert canvas_pixels(page, [(5, 5)]) == [(0, 0, 0, 0)]
    # The timing breakdown and the raw JSON are on the page.
    for step in body["timing_ms"]:
        expect(page.locator("#timing")).to_contain_text(step.replace("_", " "))
    assert json.loads(page.locator("#raw").inner_text()) == body
    screenshot(page, "demo_mpii_tiny_model")


def test_the_threshold_hides_low_joints_and_hover_names_a_joint(
    page: Page, service_url: str, skeleton: dict
) -> None:
    open_demo(page, service_url)
    choose_image(page, MPII_IMAGE)
    draw_box(page, PERSON_BOX)
    body = estimate(page).json()
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")
    keypoints = body["persons"][0]["keypoints"]

    # Hover: the joint farthest from all others, so that the nearest joint to the pointer is unambiguous.
    def isolation(k: dict) -> float:
        return min(math.dist((k["x"], k["y"]), (o["x"], o["y"])) for o in keypoints if o is not k)

    lonely = max(keypoints, key=isolation)
    page.mouse.move(*image_to_page(page, lonely["x"], lonely["y"]))
    expect(page.locator("#tooltip")).to_be_visible()
    expect(page.locator("#tooltip")).to_have_text(f"{lonely['name']} {lonely['score']:.2f}")

    scores = sorted(k["score"] for k in keypoints)
    threshold = round((scores[NUM_JOINTS // 2 - 1] + scores[NUM_JOINTS // 2]) / 2, 2)
    page.eval_on_selector(
        "#threshold", "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", str(threshold)
    )
    expect(page.locator("#threshold-value")).to_have_text(f"{threshold:.2f}")
    assert_shown_joints_drawn(page, body, skeleton, threshold)
    hidden = _clear_points(body, skeleton, threshold, MARKER_CSS_PX * image_per_css_px(page))
    hidden_count = sum(k["score"] < threshold for k in keypoints)
    assert hidden_count > 0
    assert all(pixel == (0, 0, 0, 0) for pixel in canvas_pixels(page, [(k["x"], k["y"]) for k in hidden]))
    drawn = int(page.get_attribute("#stage", "data-drawn-joints"))
    assert drawn == NUM_JOINTS - hidden_count
    screenshot(page, "demo_threshold")


def test_boxes_can_be_moved_deleted_or_the_whole_image_taken(page: Page, service_url: str) -> None:
    open_demo(page, service_url)
    choose_image(page, MPII_IMAGE)
    draw_box(page, (100, 100, 300, 400))
    draw_box(page, (700, 100, 1000, 600))
    expect(page.locator(".box")).to_have_count(2)
    # Move the second box 100 image px left and 50 down by dragging its middle.
    start = image_to_page(page, 850, 350)
    drag(page, start, image_to_page(page, 750, 400))
    # Delete the first.
    page.click('.box button[data-delete="0"]')
    expect(page.locator(".box")).to_have_count(1)
    body = estimate(page).json()
    tolerance = 3 * image_per_css_px(page)
    assert len(body["persons"]) == 1
    assert np.allclose(body["persons"][0]["box"], (600, 150, 900, 650), atol=tolerance)

    page.click("#clear-boxes")
    page.click("#whole")
    body = estimate(page).json()
    assert body["persons"][0]["box"] == [0, 0, 1280, 720]


def test_copy_and_download_give_the_json(page: Page, service_url: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_demo(page, service_url)
    choose_image(page, MPII_IMAGE)
    page.click("#whole")
    body = estimate(page).json()
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")
    page.click("#copy")
    expect(page.locator("#status")).to_have_text("JSON copied")
    assert json.loads(page.evaluate("() => navigator.clipboard.readText()")) == body
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "005808361.pose.json"
    assert json.loads(Path(download.value.path()).read_text()) == body


def test_the_services_message_is_shown_for_a_gif_and_for_a_file_that_is_no_image(
    page: Page, detecting_service_url: str, tmp_path: Path
) -> None:
    """No box drawn: the page asks the service to find the people, and the service judges the file."""
    gif = tmp_path / "person.gif"
    Image.new("RGB", (64, 48), (90, 120, 200)).save(gif, "GIF")
    open_demo(page, detecting_service_url)
    choose_image(page, gif)  # the browser shows a GIF; the service takes JPEG, PNG, BMP, WebP
    response = estimate(page)
    assert response.status == 415
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("415")
    expect(page.locator("#error")).to_contain_text(response.json()["detail"])

    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    page.set_input_files("#file", str(text))
    page.wait_for_selector('#stage[data-state="unreadable"]', state="attached")
    response = estimate(page)
    assert response.status == 400
    expect(page.locator("#error")).to_contain_text(response.json()["detail"])
    assert "not a recognised image" in response.json()["detail"]
    screenshot(page, "demo_error")


def test_the_page_asks_for_the_api_key_and_then_works(page: Page, serve, tmp_path: Path) -> None:
    url = serve(api_key="open-sesame")
    open_demo(page, url)
    expect(page.locator("#key-row")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("needs an API key")
    page.fill("#api-key", "wrong")
    page.click("#key-apply")
    expect(page.locator("#error")).to_contain_text("the API key is wrong")
    expect(page.locator("#model option")).to_have_count(0)

    page.fill("#api-key", "open-sesame")
    page.press("#api-key", "Enter")
    expect(page.locator("#model option")).to_have_count(1)
    expect(page.locator("#error")).to_be_hidden()
    choose_image(page, MPII_IMAGE)
    draw_box(page, PERSON_BOX)
    with page.expect_request(lambda request: request.url.endswith("/v1/pose")) as request:
        response = estimate(page)
    assert request.value.headers["authorization"] == "Bearer open-sesame"
    assert response.status == 200
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")


def test_model_and_version_come_from_the_service(page: Page, service_url: str) -> None:
    models = httpx.get(f"{service_url}/v1/models", timeout=10).json()["models"]
    open_demo(page, service_url)
    expect(page.locator("#model option")).to_have_text([m["name"] for m in models])
    versions = models[0]["versions"]
    expect(page.locator("#version option")).to_have_count(1 + len(versions))
    page.select_option("#version", str(versions[0]["version"]))
    page.uncheck("#flip")
    choose_image(page, MPII_IMAGE)
    page.click("#whole")
    with page.expect_request(lambda request: request.url.endswith("/v1/pose")) as request:
        body = estimate(page).json()
    form = request.value.post_data_buffer
    assert b'name="flip"\r\n\r\nfalse' in form
    assert f'name="version"\r\n\r\n{versions[0]["version"]}'.encode() in form
    assert body["model"] == {
        "name": models[0]["name"],
        "version": versions[0]["version"],
        "backend": "onnxruntime",
        "precision": "fp32",
    }


def test_the_page_fits_a_phone_screen(phone_page: Page, service_url: str) -> None:
    open_demo(phone_page, service_url)
    choose_image(phone_page, MPII_IMAGE)
    draw_box(phone_page, PERSON_BOX)
    estimate(phone_page)
    phone_page.wait_for_selector('#stage[data-state="posed"]', state="attached")
    width = phone_page.evaluate("() => document.documentElement.clientWidth")
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= width
    stage = phone_page.locator("#stage").bounding_box()
    assert stage is not None and stage["x"] >= 0 and stage["x"] + stage["width"] <= width
    for button in ("#estimate", "#whole", "#file"):
        box = phone_page.locator(button if button != "#file" else ".for-image .file-button").bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    screenshot(phone_page, "demo_phone")
