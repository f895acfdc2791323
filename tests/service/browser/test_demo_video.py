"""The demo page's Video mode in headless Chromium: a generated clip (WebM, VP9) tracked through
POST /v1/pose/video, each frame's skeletons drawn over the video from the frame shown, the JSON Lines
downloaded. The tiny test pose model and the shipped person detector, in-thread."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import assert_shown_joints_drawn, open_demo, screenshot
from playwright.sync_api import Page, expect
from video_clips import encode_clip, steady_pair

pytestmark = pytest.mark.slow

FRAMES = 20
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "walkers.webm"
    path.write_bytes(encode_clip(steady_pair(FRAMES), "webm", "libvpx-vp9"))
    return path


def choose_video(page: Page, path: Path) -> None:
    page.click('#modes button[data-mode="video"]')
    page.set_input_files("#video-file", str(path))
    page.wait_for_selector('#stage[data-state="video"]', state="attached")


def smoothed_body(line: dict[str, Any]) -> dict[str, Any]:
    """A frame line as the page draws it (smoothed joints), in /v1/pose's shape for the drawing checks."""
    return {"persons": [{"box": p["box"], "keypoints": p["smoothed"]} for p in line["persons"]]}


def test_a_tracked_video_shows_each_frames_skeletons_and_downloads_the_json_lines(
    page: Page, detecting_service_url: str, clip_file: Path
) -> None:
    skeleton = httpx.get(f"{detecting_service_url}/demo/skeleton", timeout=10).json()
    direct = httpx.post(
        f"{detecting_service_url}/v1/pose/video",
        files={"video": (clip_file.name, clip_file.read_bytes())},
        timeout=120,
    )
    expected = [json.loads(line) for line in direct.text.splitlines()]
    open_demo(page, detecting_service_url)
    choose_video(page, clip_file)
    expect(page.locator("#status")).to_contain_text("walkers.webm: 256 x 192 px")
    page.click("#track")
    page.wait_for_selector('#stage[data-state="tracked"]', state="attached", timeout=TIMEOUT_MS)
    assert page.get_attribute("#stage", "data-frames-received") == str(FRAMES)
    expect(page.locator("#status")).to_contain_text(f"{FRAMES} frames")
    expect(page.locator("#timing")).to_contain_text("tracks")

    with page.expect_download() as download:
        page.click("#download-lines")
    assert download.value.suggested_filename == "walkers.poses.jsonl"
    lines = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert lines[:-1] == expected[:-1]  # the same tracks as a request of the same video
    assert lines[-1]["frames"] == FRAMES and lines[-1]["tracks"] == expected[-1]["tracks"]

    # Seeking shows the frame at that time with its own skeletons.
    for index in (3, 14):
        line = lines[index]
        assert line["persons"]
        page.eval_on_selector("#movie", "(video, time) => { video.currentTime = time; }", line["time_s"])
        page.wait_for_selector(f'#stage[data-shown-frame="{index}"]', state="attached")
        assert_shown_joints_drawn(page, smoothed_body(line), skeleton)
    screenshot(page, "demo_video")

    # Playing, the drawing follows the frames shown.
    page.eval_on_selector("#movie", "video => { video.currentTime = 0; return video.play(); }")
    page.wait_for_function(
        f"() => Number(document.getElementById('stage').dataset.shownFrame) >= {FRAMES - 4}",
        timeout=TIMEOUT_MS,
    )


def test_the_services_refusal_of_a_video_is_shown(page: Page, service_url: str, clip_file: Path) -> None:
    """The tiny model alone: no detector to find the people in the video."""
    open_demo(page, service_url)
    choose_video(page, clip_file)
    with page.expect_response(lambda response: response.url.endswith("/v1/pose/video")) as answer:
        page.click("#track")
    assert answer.value.status == 422
    expect(page.locator("#error")).to_contain_text("no person detector is ready")
