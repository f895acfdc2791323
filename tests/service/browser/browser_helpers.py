"""Driving the demo page like a person (mouse, file chooser) and reading back what its canvas shows."""

import math
from pathlib import Path
from typing import Any

import numpy as np
from helpers import REPO_ROOT
from playwright.sync_api import Page, Response

SCREENSHOTS = REPO_ROOT / "test-screenshots"
POSE_PATH = "/v1/pose"
# Joint markers and limbs are a few CSS pixels wide; a point farther than this from anything drawn is empty.
MARKER_CSS_PX = 14.0


def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """A PNG of the page (or of the viewport) in test-screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def open_demo(page: Page, url: str) -> None:
    page.goto(f"{url}/")
    page.wait_for_selector('#stage[data-ready="true"]', state="attached")


def choose_image(page: Page, path: Path) -> None:
    page.set_input_files("#file", str(path))
    page.wait_for_selector('#stage[data-state="image"]', state="attached")


def image_to_page(page: Page, x: float, y: float) -> tuple[float, float]:
    """Image pixel -> page (CSS) coordinates of where the shown image has it."""
    return page.evaluate(
        """([x, y]) => {
            const photo = document.getElementById("photo");
            const rect = photo.getBoundingClientRect();
            const sx = rect.width / photo.naturalWidth, sy = rect.height / photo.naturalHeight;
            return [rect.left + x * sx, rect.top + y * sy];
        }""",
        [x, y],
    )


def image_per_css_px(page: Page) -> float:
    return page.evaluate(
        "() => { const p = document.getElementById('photo');"
        " return p.naturalWidth / p.getBoundingClientRect().width; }"
    )


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def draw_box(page: Page, box: tuple[float, float, float, float]) -> None:
    """Drag from the box's top-left to its bottom-right corner, given in image pixels."""
    drag(page, image_to_page(page, box[0], box[1]), image_to_page(page, box[2], box[3]))


def estimate(page: Page) -> Response:
    """Press the button and return the service's answer to the page's POST /v1/pose."""
    with page.expect_response(lambda response: response.url.endswith(POSE_PATH)) as answer:
        page.click("#estimate")
    return answer.value


def canvas_pixels(page: Page, points: list[tuple[float, float]]) -> list[tuple[int, int, int, int]]:
    """RGBA of the skeleton canvas (image pixel grid) at each point's pixel."""
    return [
        tuple(rgba)
        for rgba in page.evaluate(
            """(points) => {
                const canvas = document.getElementById("skeleton");
                const context = canvas.getContext("2d");
                const at = ([x, y]) => context.getImageData(Math.floor(x), Math.floor(y), 1, 1).data;
                return points.map((point) => Array.from(at(point)));
            }""",
            [list(p) for p in points],
        )
    ]


def css_rgb(color: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b)."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def keypoints_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every keypoint of every person, with its person index."""
    return [{**k, "person": i} for i, person in enumerate(body["persons"]) for k in person["keypoints"]]


def _side_colors(skeleton: dict) -> dict[str, tuple[int, int, int]]:
    sides = {joint["name"]: joint["side"] for joint in skeleton["joints"]}
    return {name: css_rgb(skeleton["colors"][side]) for name, side in sides.items()}


def segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
    return float(np.linalg.norm(p - (a + t * ab)))


def assert_shown_joints_drawn(page: Page, body: dict, skeleton: dict, threshold: float = 0.0) -> None:
    """Each joint scoring >= threshold is drawn at its JSON position, in its own side's colour when no other
    shown joint's marker (fill or dark outline) reaches that pixel, and opaque where markers crowd."""
    colors = _side_colors(skeleton)
    near = MARKER_CSS_PX * image_per_css_px(page)
    shown = [k for k in keypoints_of(body) if k["score"] >= threshold]
    pixels = canvas_pixels(page, [(k["x"], k["y"]) for k in shown])
    for keypoint, (r, g, b, alpha) in zip(shown, pixels, strict=True):
        assert alpha == 255, f"{keypoint['name']} at ({keypoint['x']:.1f}, {keypoint['y']:.1f}) is not drawn"
        neighbours = [
            other
            for other in shown
            if other is not keypoint
            and math.dist((other["x"], other["y"]), (keypoint["x"], keypoint["y"])) < near
        ]
        if not neighbours:
            assert (r, g, b) == colors[keypoint["name"]], (
                f"{keypoint['name']} drawn in {(r, g, b)}, expected {colors[keypoint['name']]}"
            )
