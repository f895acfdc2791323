"""The demo page on the shipped models (model_repo/): on a synthetic validation image with boxes drawn, and on
a real photograph with no box, where the shipped detector finds the people (the README's picture:
`test-screenshots/demo_shipped_detection.png`, copied to docs/images/demo_page.png)."""

from pathlib import Path

import cv2
import httpx
import pytest
from browser_helpers import (
    assert_shown_joints_drawn,
    choose_image,
    draw_box,
    estimate,
    image_to_page,
    open_demo,
    screenshot,
)
from helpers import MPII_IMAGES, REPO_ROOT
from playwright.sync_api import Page, expect

from core.joints import NUM_JOINTS
from training.synth import DEFAULT_IMAGE_SIZE, image_name, render_image
from training.synth.annotation import Entry

pytestmark = pytest.mark.slow

SHIPPED_REPO = REPO_ROOT / "model_repo"
# As the README's served picture: `training.synth ... --seed 2026`, validation image 0, its figures.
SYNTH_SEED = 2026
BOX_MARGIN = 0.15


def figure_boxes(entries: list[Entry], width: int, height: int) -> list[tuple[float, float, float, float]]:
    """A box around each annotated figure's joints inside the image, widened by BOX_MARGIN, as a person
    would draw it; a figure whose box would overlap an earlier one is left out (a drag that starts inside a
    box moves that box)."""
    boxes: list[tuple[float, float, float, float]] = []
    for entry in entries:
        joints = entry.part[(entry.part > 0).all(axis=1)] - 1.0
        (x1, y1), (x2, y2) = joints.min(axis=0), joints.max(axis=0)
        pad = BOX_MARGIN * max(x2 - x1, y2 - y1)
        left, top = float(max(0.0, x1 - pad)), float(max(0.0, y1 - pad))
        right, bottom = float(min(width - 1.0, x2 + pad)), float(min(height - 1.0, y2 + pad))
        if not any(left < b[2] and b[0] < right and top < b[3] and b[1] < bottom for b in boxes):
            boxes.append((left, top, right, bottom))
    return boxes


def test_the_shipped_model_on_the_page(page: Page, serve, tmp_path: Path) -> None:
    url = serve(repo=SHIPPED_REPO)
    pixels, entries = render_image(SYNTH_SEED, "valid", 0, DEFAULT_IMAGE_SIZE)
    boxes = figure_boxes(entries, pixels.shape[1], pixels.shape[0])
    image = tmp_path / image_name("valid", 0)
    cv2.imwrite(str(image), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    skeleton = httpx.get(f"{url}/demo/skeleton", timeout=10).json()

    open_demo(page, url)
    choose_image(page, image)
    for box in boxes:
        draw_box(page, box)
    response = estimate(page)
    assert response.status == 200
    body = response.json()
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")
    assert body["model"]["name"] == "hourglass" and body["model"]["backend"] == "onnxruntime"
    assert len(body["persons"]) == len(boxes)
    assert_shown_joints_drawn(page, body, skeleton)
    head = next(k for k in body["persons"][-1]["keypoints"] if k["name"] == "head_top")
    page.mouse.move(*image_to_page(page, head["x"], head["y"]))
    expect(page.locator("#tooltip")).to_contain_text("head_top")
    assert int(page.get_attribute("#stage", "data-drawn-joints")) == len(boxes) * NUM_JOINTS
    screenshot(page, "demo_shipped_model", full_page=False)


def test_the_shipped_models_find_and_pose_the_people_of_a_photograph(page: Page, serve) -> None:
    """Default settings: each version on its fastest backend, the default version, the shipped detector."""
    url = serve(repo=SHIPPED_REPO, backend="auto")
    skeleton = httpx.get(f"{url}/demo/skeleton", timeout=10).json()
    open_demo(page, url)
    choose_image(page, MPII_IMAGES / "005808361.jpg")
    response = estimate(page)
    assert response.status == 200
    body = response.json()
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")
    assert body["model"]["name"] == "hourglass"
    assert len(body["persons"]) >= 2 and all(person["score"] > 0 for person in body["persons"])
    assert_shown_joints_drawn(page, body, skeleton)
    screenshot(page, "demo_shipped_detection", full_page=False)
