"""The demo page finds the people itself: with no box drawn, Estimate poses leaves the persons to the
service's detector; Find people shows the detector's boxes, which the user edits before estimating.
Headless Chromium against the tiny test pose model and the shipped person detector (YOLOX-Nano) on a real
MPII photograph."""

import json

import httpx
import numpy as np
import pytest
from browser_helpers import (
    assert_shown_joints_drawn,
    choose_image,
    drag,
    estimate,
    image_per_css_px,
    image_to_page,
    open_demo,
    screenshot,
)
from helpers import MPII_IMAGES
from playwright.sync_api import Page, Request, expect

pytestmark = pytest.mark.slow

# Three people stand in it (MPII annotates one); the detector finds at least two.
CROWD = MPII_IMAGES / "052475643.jpg"
DETECT_PATH = "/v1/detect"


def form_fields(request: Request) -> dict[str, str]:
    """The text fields of a multipart request the page sent."""
    body = request.post_data_buffer or b""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    fields = {}
    for part in body.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        if b"filename=" in head or b'name="' not in head:
            continue
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        fields[name] = value.removesuffix(b"\r\n").decode()
    return fields


def shown_boxes(page: Page) -> list[list[float]]:
    """Each box on the page, in image pixels, from where it is drawn."""
    per_css = image_per_css_px(page)
    origin = image_to_page(page, 0, 0)
    boxes = []
    for element in page.locator(".box").all():
        rect = element.bounding_box()
        assert rect is not None
        x, y = (rect["x"] - origin[0]) * per_css, (rect["y"] - origin[1]) * per_css
        boxes.append([x, y, x + rect["width"] * per_css, y + rect["height"] * per_css])
    return boxes


def test_with_no_box_drawn_estimate_poses_lets_the_detector_find_the_people(
    page: Page, detecting_service_url: str
) -> None:
    skeleton = httpx.get(f"{detecting_service_url}/demo/skeleton", timeout=10).json()
    open_demo(page, detecting_service_url)
    # The detector is a model of the service, but not one to estimate poses with.
    expect(page.locator("#model option")).to_have_text(["tiny"])
    choose_image(page, CROWD)
    with page.expect_request(lambda request: request.url.endswith("/v1/pose")) as sent:
        response = estimate(page)
    assert response.status == 200
    assert "persons" not in form_fields(sent.value)
    body = response.json()
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")
    assert len(body["persons"]) >= 2 and all(0 < person["score"] <= 1 for person in body["persons"])
    assert_shown_joints_drawn(page, body, skeleton)
    expect(page.locator("#status")).to_contain_text(f"{len(body['persons'])} person(s) found by the detector")
    screenshot(page, "demo_detected")


def test_find_people_shows_the_detected_boxes_to_edit_before_estimating(
    page: Page, detecting_service_url: str
) -> None:
    open_demo(page, detecting_service_url)
    choose_image(page, CROWD)
    with page.expect_response(lambda response: response.url.endswith(DETECT_PATH)) as answer:
        page.click("#find")
    found = answer.value.json()["persons"]
    assert len(found) >= 2
    expect(page.locator(".box")).to_have_count(len(found))
    tolerance = 2 * image_per_css_px(page)
    np.testing.assert_allclose(shown_boxes(page), [person["box"] for person in found], atol=tolerance)
    expect(page.locator(".box span").first).to_have_text(f"person 1 · {found[0]['score']:.2f}")
    expect(page.locator("#status")).to_contain_text(f"{len(found)} people found")
    screenshot(page, "demo_find_people")

    # The user deletes the last box and moves the first 30 image pixels right by its middle.
    page.click(f'.box button[data-delete="{len(found) - 1}"]')
    expect(page.locator(".box")).to_have_count(len(found) - 1)
    x1, y1, x2, y2 = found[0]["box"]
    middle = ((x1 + x2) / 2, (y1 + y2) / 2)
    drag(page, image_to_page(page, *middle), image_to_page(page, middle[0] + 30, middle[1]))
    with page.expect_request(lambda request: request.url.endswith("/v1/pose")) as sent:
        response = estimate(page)
    sent_boxes = [person["box"] for person in json.loads(form_fields(sent.value)["persons"])]
    expected = [[x1 + 30, y1, x2 + 30, y2], *[person["box"] for person in found[1:-1]]]
    np.testing.assert_allclose(sent_boxes, expected, atol=tolerance)
    body = response.json()
    assert [person["box"] for person in body["persons"]] == sent_boxes
    assert all(person["score"] is None for person in body["persons"])  # given boxes, not detections


def test_without_a_detector_the_page_shows_what_to_do(page: Page, service_url: str) -> None:
    open_demo(page, service_url)
    choose_image(page, CROWD)
    response = estimate(page)
    assert response.status == 422
    expect(page.locator("#error")).to_contain_text("no person detector is ready")
    expect(page.locator("#error")).to_contain_text("give persons")
