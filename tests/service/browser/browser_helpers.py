"""Debian's Chromium, offline, and driving the demo page like a person (mouse, file chooser) and reading
back what its canvas shows.

Playwright's own browser download cannot work on these machines, so the tests launch the system Chromium
(`apt-get install chromium`; `make test` installs it when it is missing and it runs as root). Every page
may reach only the service on 127.0.0.1: any other request is aborted and recorded, and a test that made
one fails.
"""

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from helpers import REPO_ROOT
from playwright.sync_api import Browser, BrowserContext, Page, Response, Route, sync_playwright

CHROMIUM = Path(os.environ.get("HGPOSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = ("127.0.0.1", "localhost")
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOTS = REPO_ROOT / "test-screenshots"
POSE_PATH = "/v1/pose"
# Joint markers and limbs are a few CSS pixels wide; a point farther than this from anything drawn is empty.
MARKER_CSS_PX = 14.0


@contextmanager
def chromium(extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """Debian's Chromium, headless, with `extra_args` (a fake camera); skipped (failed in CI) without it."""
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        args = [*CHROMIUM_ARGS, *extra_args]
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        yield browser
        browser.close()


def offline_context(browser: Browser, outside: list[str], **options: Any) -> BrowserContext:
    context = browser.new_context(accept_downloads=True, **options)

    def route(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname not in LOCAL_HOSTS:
            outside.append(url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    context.route("**/*", route)
    return context


@contextmanager
def checked_page(browser: Browser, outside: list[str], **options: Any) -> Iterator[Page]:
    """A page in a fresh offline context; the test fails if the page asked for anything outside or raised
    a JavaScript error."""
    context = offline_context(browser, outside, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not outside, f"the page requested outside hosts: {outside}"
    assert not errors, f"JavaScript errors on the page: {errors}"


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


# The picture the page shows (the image, or the video of a file or the camera) and the size of the pixel grid
# its skeletons are drawn in (the canvas: the picture's own, or the frame sent to the service).
_SHOWN = """(() => {
    const photo = document.getElementById("photo"), canvas = document.getElementById("skeleton");
    const element = photo.hidden ? document.getElementById("movie") : photo;
    return { rect: element.getBoundingClientRect(), width: canvas.width, height: canvas.height };
})()"""


def image_to_page(page: Page, x: float, y: float) -> tuple[float, float]:
    """Image pixel -> page (CSS) coordinates of where the shown picture has it."""
    return page.evaluate(
        f"""([x, y]) => {{
            const shown = {_SHOWN};
            return [shown.rect.left + x * shown.rect.width / shown.width,
                    shown.rect.top + y * shown.rect.height / shown.height];
        }}""",
        [x, y],
    )


def image_per_css_px(page: Page) -> float:
    """Pixels of the drawing's grid per CSS pixel of the shown picture."""
    return page.evaluate(f"() => {{ const shown = {_SHOWN}; return shown.width / shown.rect.width; }}")


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
    shown joint's marker (fill or dark outline) reaches that pixel, and opaque where markers crowd. A joint
    outside the picture (a model may put one there) has no pixel to check; at least one must be inside."""
    colors = _side_colors(skeleton)
    near = MARKER_CSS_PX * image_per_css_px(page)
    shown = [k for k in keypoints_of(body) if k["score"] >= threshold]
    width, height = page.evaluate(
        "() => [document.getElementById('skeleton').width, document.getElementById('skeleton').height]"
    )
    inside = [k for k in shown if 0 <= k["x"] < width and 0 <= k["y"] < height]
    assert inside or not shown, "every joint is outside the picture"
    pixels = canvas_pixels(page, [(k["x"], k["y"]) for k in inside])
    for keypoint, (r, g, b, alpha) in zip(inside, pixels, strict=True):
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
