"""The demo page on the shipped model (model_repo/, onnxruntime) with a synthetic validation image, the
picture in the README (`test-screenshots/demo_shipped_model.png`, copied to docs/images/demo_page.png)."""

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
from playwright.sync_api import Page, expect

from core.joints import NUM_JOINTS
from training.synth import DEFAULT_IMAGE_SIZE, image_name, render_image

pytestmark = pytest.mark.slow

SHIPPED_REPO = Path(__file__).resolve().parents[3] / "model_repo"
# As the README's served picture: `training.synth ... --seed 2026`, validation image 0, its two figures.
SYNTH_SEED = 2026
BOXES = [(60.0, 140.0, 195.0, 385.0), (250.0, 0.0, 375.0, 160.0)]


def test_the_shipped_model_on_the_page(page: Page, serve, tmp_path: Path) -> None:
    url = serve(repo=SHIPPED_REPO)
    pixels, _ = render_image(SYNTH_SEED, "valid", 0, DEFAULT_IMAGE_SIZE)
    image = tmp_path / image_name("valid", 0)
    cv2.imwrite(str(image), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    skeleton = httpx.get(f"{url}/demo/skeleton", timeout=10).json()

    open_demo(page, url)
    choose_image(page, image)
    for box in BOXES:
        draw_box(page, box)
    response = estimate(page)
    assert response.status == 200
    body = response.json()
    page.wait_for_selector('#stage[data-state="posed"]', state="attached")
    assert body["model"]["name"] == "hourglass" and body["model"]["backend"] == "onnxruntime"
    assert len(body["persons"]) == len(BOXES)
    assert_shown_joints_drawn(page, body, skeleton)
    head = next(k for k in body["persons"][1]["keypoints"] if k["name"] == "head_top")
    page.mouse.move(*image_to_page(page, head["x"], head["y"]))
    expect(page.locator("#tooltip")).to_contain_text("head_top")
    assert int(page.get_attribute("#stage", "data-drawn-joints")) == len(BOXES) * NUM_JOINTS
    screenshot(page, "demo_shipped_model", full_page=False)
