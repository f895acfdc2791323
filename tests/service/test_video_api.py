"""POST /v1/pose/video against the real service (the tiny test pose model and the shipped person detector,
on onnxruntime, in-thread): the stream's lines, the same keypoints as /v1/pose, the limits as 4xx before
streaming, damage reported in the stream, render=mp4, a client that hangs up, the slots."""

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from helpers import ServedApp
from PIL import Image
from service_helpers import SlowCountingBackends, response_keypoints
from video_clips import Clip, bytes_flipped, encode_clip, steady_pair, truncated

from core.drawing import draw_poses
from runtime.video.decode import VideoReader
from runtime.video.rendering import VIDEO_STYLE
from service.video_schemas import DoneLine, ErrorLine, FrameLine

pytestmark = pytest.mark.slow

FRAMES = 12
TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def clip() -> Clip:
    return steady_pair(FRAMES)


@pytest.fixture(scope="module")
def mp4(clip: Clip) -> bytes:
    return encode_clip(clip, "mp4")


@pytest.fixture(scope="module")
def first_persons(clip: Clip) -> list[dict[str, list[float]]]:
    joints = clip.joints[0]
    return [{"box": [*map(float, person.min(axis=0)), *map(float, person.max(axis=0))]} for person in joints]


@pytest.fixture(scope="module")
def url(detecting_service_url: str) -> str:
    return detecting_service_url


def post_video(
    url: str, video: bytes, query: str = "", headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    data = {key: json.dumps(value) if key == "persons" else str(value) for key, value in fields.items()}
    return httpx.post(
        f"{url}/v1/pose/video{query}",
        files={"video": ("clip.mp4", video)},
        data=data,
        headers=headers,
        timeout=TIMEOUT_S,
    )


def lines_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def frame_png(video: bytes, index: int) -> bytes:
    with VideoReader(video) as reader:
        image = next(frame.image for frame in reader.frames() if frame.frame_index == index)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_line_per_frame_in_order_then_the_totals(url: str, mp4: bytes, clip: Clip) -> None:
    response = post_video(url, mp4)
    lines = lines_of(response)
    assert response.headers["x-video-frame-count"] == str(FRAMES)
    frames, done = lines[:-1], DoneLine.model_validate(lines[-1])
    for line in frames:
        FrameLine.model_validate(line)
    assert [line["frame"] for line in frames] == list(range(FRAMES))
    np.testing.assert_allclose([line["time_s"] for line in frames], clip.times, atol=1e-6)
    assert (done.frames, done.model.name, done.video.width, done.video.height) == (FRAMES, "tiny", 256, 192)
    assert done.detector is not None and done.detector.name == "person_detector"
    assert done.detector_runs == sum(line["detected"] for line in frames) >= 1
    ids = {person["track_id"] for line in frames for person in line["persons"]}
    assert done.tracks == max(ids, default=0)
    assert {i for line in frames for i in line["started"]} == ids
    for line in frames:
        for person in line["persons"]:
            assert [k["name"] for k in person["smoothed"]] == [k["name"] for k in person["keypoints"]]
            assert [k["score"] for k in person["smoothed"]] == [k["score"] for k in person["keypoints"]]


def test_a_frames_raw_keypoints_are_what_v1_pose_gives_its_pixels_and_box(
    url: str, mp4: bytes, first_persons: list[dict[str, list[float]]]
) -> None:
    """Given persons, no smoothing, every pose a person (the random-weight model scores low): frame 0's
    boxes are the given ones; on frames 0 and 5 each person's keypoints are /v1/pose's for the decoded
    frame (sent losslessly) and that person's box."""
    lines = lines_of(
        post_video(url, mp4, persons=first_persons, smooth="false", flip="false", min_pose_score=0)
    )
    assert sorted(p["box"] for p in lines[0]["persons"]) == sorted(p["box"] for p in first_persons)
    for index in (0, 5):
        persons = lines[index]["persons"]
        assert persons and all(person["smoothed"] is None for person in persons)
        boxes = [{"box": person["box"]} for person in persons]
        image = httpx.post(
            f"{url}/v1/pose",
            files={"image": ("frame.png", frame_png(mp4, index))},
            data={"persons": json.dumps(boxes), "flip": "false"},
            timeout=TIMEOUT_S,
        )
        xy, scores = response_keypoints(image.json())
        video_xy = np.array([[[k["x"], k["y"]] for k in p["keypoints"]] for p in persons])
        video_scores = np.array([[k["score"] for k in p["keypoints"]] for p in persons])
        np.testing.assert_allclose(video_xy, xy, atol=1e-4)
        np.testing.assert_allclose(video_scores, scores, atol=1e-6)


def test_without_a_detector_persons_are_needed_and_are_then_followed(
    serve: Callable[..., str], mp4: bytes, first_persons: list[dict[str, list[float]]]
) -> None:
    url = serve()  # the tiny pose model alone
    refused = post_video(url, mp4)
    assert refused.status_code == 422 and "no person detector is ready" in refused.json()["detail"]
    lines = lines_of(post_video(url, mp4, persons=first_persons))
    assert lines[-1]["done"] and lines[-1]["detector"] is None and lines[-1]["detector_runs"] == 0
    assert [line["frame"] for line in lines[:-1]] == list(range(FRAMES))


@pytest.mark.parametrize(
    ("setting", "value", "what"),
    [
        ("video_max_frames", 10, "frame count is 12, over the limit of 10"),
        ("video_max_duration_s", 0.2, "duration is 0.48 s, over the limit of 0.2 s"),
        ("video_max_side", 200, "width is 256 pixels, over the limit of 200 pixels"),
        ("video_max_pixels", 256 * 191, "frame size is 49152 pixels, over the limit of 48896 pixels"),
    ],
)
def test_each_video_limit_is_a_413_before_streaming(
    serve: Callable[..., str], detecting_repo: Path, mp4: bytes, setting: str, value: float, what: str
) -> None:
    response = post_video(serve(detecting_repo, **{setting: value}), mp4)
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == f"the video's {what}"


def test_the_upload_limit_is_the_videos_own_and_images_keep_theirs(
    serve: Callable[..., str], detecting_repo: Path, mp4: bytes
) -> None:
    url = serve(detecting_repo, max_body_bytes=len(mp4) // 2, video_max_bytes=len(mp4) + 1000)
    assert post_video(url, mp4).status_code == 200
    image = httpx.post(f"{url}/v1/pose", files={"image": ("a.mp4", mp4)}, timeout=TIMEOUT_S)
    assert image.status_code == 413
    small = serve(detecting_repo, video_max_bytes=len(mp4) // 2)
    response = post_video(small, mp4)
    assert response.status_code == 413 and f"the limit is {len(mp4) // 2} bytes" in response.json()["detail"]


def test_what_cannot_be_read_is_refused_before_streaming(url: str, mp4: bytes) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (32, 32)).save(gif, "GIF")
    for data, status, words in (
        (gif.getvalue(), 415, "not a video in a supported container"),
        (b"", 415, "not a video"),
        (truncated(mp4), 400, "cannot be opened"),
    ):
        response = post_video(url, data)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    missing = httpx.post(f"{url}/v1/pose/video", files={"clip": ("a.mp4", mp4)}, timeout=TIMEOUT_S)
    assert missing.status_code == 422 and "'video' is missing" in missing.json()["detail"]


def test_damage_found_while_streaming_ends_the_stream_with_an_error_line(url: str) -> None:
    """The frames decoded before the damage are answered, then the error line says what was wrong."""
    clip = steady_pair(40)
    cut = truncated(encode_clip(clip, "matroska"), keep=0.6)
    lines = lines_of(post_video(url, cut))
    error = ErrorLine.model_validate(lines[-1])
    assert error.status == 400 and "cut short" in error.detail
    assert error.frames == len(lines) - 1 >= 10
    assert [line["frame"] for line in lines[:-1]] == list(range(error.frames))

    flipped = lines_of(post_video(url, bytes_flipped(encode_clip(clip, "webm", "libvpx"), count=200)))
    assert flipped[-1].get("error") is True and flipped[-1]["status"] == 400


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"detect_every": "0"}, "detect_every"),
        ({"similarity": "cosine"}, "similarity"),
        ({"smooth_beta": "-1"}, "smooth_beta"),
        ({"max_missed_frames": "true"}, "max_missed_frames"),
        ({"persons": "[{}]"}, "persons"),
        ({"frames": "3"}, "frames"),
    ],
)
def test_bad_options_are_a_422(url: str, mp4: bytes, fields: dict[str, str], words: str) -> None:
    response = httpx.post(
        f"{url}/v1/pose/video", files={"video": ("a.mp4", mp4)}, data=fields, timeout=TIMEOUT_S
    )
    assert response.status_code == 422 and words in response.json()["detail"]


def test_a_person_outside_the_frame_is_a_422(url: str, mp4: bytes) -> None:
    response = post_video(url, mp4, persons=[{"box": [300, 10, 400, 100]}])
    assert response.status_code == 422 and "outside the 256x192 image" in response.json()["detail"]


def test_tracking_options_per_request_change_the_tracking(url: str, mp4: bytes) -> None:
    every_third = lines_of(post_video(url, mp4, detect_every=3, weak_track_score=0, min_pose_score=0))
    detected = [line["frame"] for line in every_third[:-1] if line["detected"]]
    assert {0, 3, 6, 9} <= set(detected)


def test_render_mp4_is_the_video_with_the_skeletons_of_the_json_drawn_on_their_frames(
    url: str, mp4: bytes
) -> None:
    """Each rendered frame shows its own frame's JSON skeletons drawn by core.drawing: where that drawing
    differs much from the undrawn frame, or from the frame drawn with the next frame's skeletons, the
    rendered pixels are nearer to it (H.264 blurs thin lines, so pixels are compared, not equality)."""
    lines = lines_of(post_video(url, mp4, smooth="false"))[:-1]
    response = post_video(url, mp4, query="?render=mp4", smooth="false")
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    with VideoReader(response.content) as reader:
        assert (reader.info.width, reader.info.height, reader.info.frame_count) == (256, 192, FRAMES)
        rendered = [frame.image.astype(float) for frame in reader.frames()]
    with VideoReader(mp4) as reader:
        source = [frame.image for frame in reader.frames()]

    def drawn(image: np.ndarray, line: dict[str, Any]) -> np.ndarray:
        persons = line["persons"]
        keypoints = np.array([[[k["x"], k["y"]] for k in p["keypoints"]] for p in persons]).reshape(-1, 16, 2)
        scores = np.array([[k["score"] for k in p["keypoints"]] for p in persons]).reshape(-1, 16)
        boxes = np.array([p["box"] for p in persons]).reshape(-1, 4)
        bgr = draw_poses(image[..., ::-1].copy(), keypoints, scores, boxes, VIDEO_STYLE)
        return bgr[..., ::-1].astype(float)

    def nearer_share(frame: np.ndarray, right: np.ndarray, wrong: np.ndarray) -> float:
        differing = np.abs(right - wrong).max(axis=2) > 100
        assert differing.sum() > 20
        to_right = np.abs(frame - right).mean(axis=2)[differing]
        return float((to_right < np.abs(frame - wrong).mean(axis=2)[differing]).mean())

    assert all(line["persons"] for line in lines)
    for index, line in enumerate(lines):
        mine = drawn(source[index], line)
        assert nearer_share(rendered[index], mine, source[index].astype(float)) > 0.9, f"frame {index}"
        following = drawn(source[index], lines[(index + 1) % FRAMES])
        assert nearer_share(rendered[index], mine, following) > 0.9, f"frame {index}"


def test_a_client_that_hangs_up_stops_the_work_and_frees_its_slot(
    serve_in_thread: Callable[..., ServedApp], detecting_repo: Path, clip: Clip
) -> None:
    long_clip = steady_pair(75)
    video = encode_clip(long_clip, "mp4")
    backends = SlowCountingBackends(delay_s=0.05)
    url = serve_in_thread(detecting_repo, backend_factory=backends, max_concurrent_videos=1).url
    with (
        httpx.Client(timeout=TIMEOUT_S) as client,
        client.stream("POST", f"{url}/v1/pose/video", files={"video": ("long.mp4", video)}) as response,
    ):
        lines = response.iter_lines()
        assert json.loads(next(lines))["frame"] == 0
        assert json.loads(next(lines))["frame"] == 1
    # The connection is closed here, with 73 frames to go.
    time.sleep(1.0)
    stopped_at = backends.calls
    time.sleep(1.5)
    assert backends.calls == stopped_at, "inference went on after the client left"
    assert stopped_at < 40
    assert post_video(url, encode_clip(clip, "mp4")).status_code == 200  # the one slot is free again


def test_videos_beyond_the_slots_get_a_503(
    serve_in_thread: Callable[..., ServedApp], detecting_repo: Path, mp4: bytes, clip: Clip
) -> None:
    backends = SlowCountingBackends(delay_s=0.05)
    url = serve_in_thread(detecting_repo, backend_factory=backends, max_concurrent_videos=1).url
    long_video = encode_clip(steady_pair(50), "mp4")
    with (
        httpx.Client(timeout=TIMEOUT_S) as client,
        client.stream("POST", f"{url}/v1/pose/video", files={"video": ("long.mp4", long_video)}) as first,
    ):
        lines = first.iter_lines()  # kept: a dropped line iterator closes the connection
        assert json.loads(next(lines))["frame"] == 0
        refused = post_video(url, mp4)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "1 videos and streams are being tracked" in refused.json()["detail"]


def test_the_api_key_guards_the_video_route(
    serve: Callable[..., str], detecting_repo: Path, mp4: bytes
) -> None:
    url = serve(detecting_repo, api_key="open-sesame")
    assert post_video(url, mp4).status_code == 401
    lines = lines_of(post_video(url, mp4, headers={"Authorization": "Bearer open-sesame"}))
    assert lines[-1]["done"]
