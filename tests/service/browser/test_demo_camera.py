"""The demo page's Camera mode in headless Chromium with its fake camera playing a generated clip (an MPII
photograph under a panning camera, as a Y4M file): frames go over WS /v1/pose/stream with the API key in
the subprotocols, answers are drawn live, frames/s and drops are shown, the last answer stays drawn."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_helpers import DESKTOP, assert_shown_joints_drawn, checked_page, chromium, open_demo, screenshot
from helpers import ServedApp
from playwright.sync_api import Page, WebSocket, expect
from service_helpers import repo_with_detector, serve_app
from video_clips import mpii_camera_clip, write_y4m

from service.settings import Settings

pytestmark = pytest.mark.slow

API_KEY = "camera key/+"
ANSWERS = 8
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def served(tiny_model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    repo = repo_with_detector(tiny_model_repo, tmp_path_factory.mktemp("camera") / "repo")
    with serve_app(Settings(model_repo=repo, backend="onnxruntime", api_key=API_KEY)) as app:
        yield app


@pytest.fixture
def camera_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """A page whose camera is Chromium's fake device, fed from the clip, permission granted."""
    clip = write_y4m(mpii_camera_clip(2, frame_count=30), tmp_path_factory.mktemp("camera") / "clip.y4m")
    fake_camera = [
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
        "--use-fake-ui-for-media-stream",
    ]
    outside: list[str] = []
    with chromium(fake_camera) as browser, checked_page(browser, outside, viewport=DESKTOP) as page:
        page.context.grant_permissions(["camera"])
        yield page


def test_the_camera_is_posed_live_over_the_websocket(camera_page: Page, served: ServedApp) -> None:
    page = camera_page
    skeleton = httpx.get(f"{served.url}/demo/skeleton", timeout=10).json()
    open_demo(page, served.url)
    page.fill("#api-key", API_KEY)
    page.click("#key-apply")
    expect(page.locator("#model option")).to_have_count(1)
    page.click('#modes button[data-mode="camera"]')
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    page.click("#camera-start")
    page.wait_for_function(
        f"() => Number(document.getElementById('stage').dataset.answers) >= {ANSWERS}", timeout=TIMEOUT_MS
    )
    expect(page.locator("#rate")).to_have_text(
        re.compile(r"^\d+ frames/s answered, \d+ of \d+ dropped, \d+ ms")
    )
    (socket,) = sockets
    assert socket.url.startswith(served.url.replace("http://", "ws://") + "/v1/pose/stream?")
    screenshot(page, "demo_camera", full_page=False)

    page.click("#camera-stop")
    expect(page.locator("#status")).to_contain_text("Camera off")
    last = json.loads(page.locator("#raw").inner_text())
    assert last["received"] >= last["frame"] + 1 >= ANSWERS and last["persons"]
    assert page.evaluate("() => document.getElementById('movie').srcObject.active") is False
    # The last answer stays drawn where its smoothed joints are, on the frame size that was sent.
    assert page.evaluate("() => document.getElementById('skeleton').width") == 256
    body = {"persons": [{"box": p["box"], "keypoints": p["smoothed"]} for p in last["persons"]]}
    assert_shown_joints_drawn(page, body, skeleton)
