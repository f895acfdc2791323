"""WS /v1/pose/stream against the real service (the tiny test pose model and the shipped person detector,
on onnxruntime, in-thread), through the `websockets` client: answers per frame with the connection's
tracks, dropping instead of queueing, the API key as a header or a subprotocol, refusals as close codes."""

import base64
import io
import json
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import ServedApp
from PIL import Image
from service_helpers import SlowCountingBackends
from video_clips import steady_pair
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from service.video_schemas import StreamAnswer, StreamError

pytestmark = pytest.mark.slow

TIMEOUT_S = 60.0


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return [_jpeg(image) for image in steady_pair(20).frames]


@pytest.fixture(scope="module")
def url(detecting_service_url: str) -> str:
    return detecting_service_url


def ws_url(url: str, query: str = "") -> str:
    return url.replace("http://", "ws://") + "/v1/pose/stream" + query


def open_stream(url: str, query: str = "", **options: Any) -> ClientConnection:
    return connect(ws_url(url, query), open_timeout=TIMEOUT_S, close_timeout=5, **options)


def answer(stream: ClientConnection) -> dict[str, Any]:
    message = stream.recv(timeout=TIMEOUT_S)
    assert isinstance(message, str)
    return json.loads(message)


def refusal(stream: ClientConnection) -> tuple[dict[str, Any], int]:
    """The error message the server sends before closing, and its close code."""
    error = StreamError.model_validate(answer(stream)).model_dump()
    with pytest.raises(ConnectionClosed) as closed:
        stream.recv(timeout=TIMEOUT_S)
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


def refusal_once_the_slot_is_free(url: str) -> tuple[dict[str, Any], int]:
    """The refusal of a stream opened after another one closed: the server frees that stream's video slot
    as its handler ends, just after the close, so a stream opened at once may still find it taken (503)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        with open_stream(url) as stream:
            error, code = refusal(stream)
        if code != 4503 or time.monotonic() > deadline:
            return error, code
        time.sleep(0.05)


def test_each_frame_sent_after_the_last_answer_is_answered_with_the_connections_tracks(
    url: str, frames: list[bytes]
) -> None:
    with open_stream(url, "?min_pose_score=0&weak_track_score=0") as stream:
        answers = []
        for data in frames:
            stream.send(data)
            answers.append(StreamAnswer.model_validate(answer(stream)))
    assert [a.frame for a in answers] == list(range(len(frames)))
    assert [a.received for a in answers] == list(range(1, len(frames) + 1))
    assert all(a.dropped == 0 for a in answers)
    assert all(a.latency_ms > 0 for a in answers)
    assert answers[0].detected and answers[0].persons
    times = [a.time_s for a in answers]
    assert times[0] == 0 and times == sorted(times)
    # The tracks live as long as the connection: a frame's persons are tracks started on it or before,
    # and a started track is new to the connection.
    seen: set[int] = set()
    for a in answers:
        assert not set(a.started) & seen
        seen |= set(a.started)
        assert {p.track_id for p in a.persons} <= seen
    assert len(seen) < sum(len(a.persons) for a in answers)  # some tracks went on over frames
    with open_stream(url) as fresh:
        fresh.send(frames[5])
        assert min(p["track_id"] for p in answer(fresh)["persons"]) == 1


def test_frames_sent_faster_than_answered_are_dropped_not_queued(
    serve_in_thread: Callable[..., ServedApp], detecting_repo: Path, frames: list[bytes]
) -> None:
    """Every inference takes 0.1 s more: of 20 frames sent at once the last is answered, and most before it
    are dropped (the newest waiting frame replaces an older one), and the answers count them."""
    url = serve_in_thread(detecting_repo, backend_factory=SlowCountingBackends(delay_s=0.1)).url
    with open_stream(url) as stream:
        for data in frames:
            stream.send(data)
        answers = [StreamAnswer.model_validate(answer(stream))]
        while answers[-1].frame != len(frames) - 1:
            answers.append(StreamAnswer.model_validate(answer(stream)))
    indices = [a.frame for a in answers]
    assert indices == sorted(indices) and len(indices) < len(frames) / 2
    last = answers[-1]
    assert last.received == len(frames) and last.dropped == len(frames) - len(answers)
    dropped = [a.dropped for a in answers]
    assert dropped == sorted(dropped)
    # A frame answered after others were dropped waited at most one tracking step, not a queue.
    assert max(a.latency_ms for a in answers) < 5 * min(a.latency_ms for a in answers) + 2000


def test_a_frame_that_is_no_image_gets_an_error_answer_and_the_stream_goes_on(
    url: str, frames: list[bytes]
) -> None:
    with open_stream(url) as stream:
        stream.send(b"not an image")
        error = StreamError.model_validate(answer(stream))
        assert (error.status, error.frame) == (400, 0) and "not a recognised image" in error.detail
        stream.send(frames[0])
        assert StreamAnswer.model_validate(answer(stream)).frame == 1


def test_the_api_key_as_a_header_or_as_a_subprotocol(
    serve: Callable[..., str], detecting_repo: Path, frames: list[bytes]
) -> None:
    url = serve(detecting_repo, api_key="open sesame/+")
    with open_stream(url) as stream:
        error, code = refusal(stream)
    assert (error["status"], code) == (401, 4401) and "needs an API key" in error["detail"]
    encoded = base64.urlsafe_b64encode(b"open sesame/+").decode().rstrip("=")
    with open_stream(url, subprotocols=["pose-stream", f"bearer.{encoded}"]) as stream:
        assert stream.subprotocol == "pose-stream"
        stream.send(frames[0])
        assert answer(stream)["frame"] == 0
    with open_stream(url, additional_headers={"Authorization": "Bearer open sesame/+"}) as stream:
        stream.send(frames[0])
        assert answer(stream)["frame"] == 0
    wrong = base64.urlsafe_b64encode(b"open sesame").decode().rstrip("=")
    with open_stream(url, subprotocols=["pose-stream", f"bearer.{wrong}"]) as stream:
        error, code = refusal(stream)
    assert (error["status"], code, error["detail"]) == (401, 4401, "the API key is wrong")


def test_refusals_close_with_4000_plus_the_http_status(
    serve_in_thread: Callable[..., ServedApp],
    detecting_repo: Path,
    tiny_model_repo: Path,
    frames: list[bytes],
) -> None:
    url = serve_in_thread(
        detecting_repo, max_concurrent_videos=1, stream_max_frame_bytes=50_000, stream_idle_timeout_s=2
    ).url
    with open_stream(url, "?detect_every=0") as stream:
        error, code = refusal(stream)
    assert code == 4422 and "detect_every" in error["detail"]
    with open_stream(url, "?model=nobody") as stream:
        assert refusal(stream)[1] == 4404
    with open_stream(url) as stream:
        stream.send("a text message")
        error, code = refusal(stream)
    assert (error["status"], code) == (415, 1003)
    with open_stream(url) as stream:
        stream.send(b"\xff" * 50_001)
        error, code = refusal(stream)
    assert (error["status"], code) == (413, 1009)
    with open_stream(url) as first:
        first.send(frames[0])
        answer(first)
        with open_stream(url) as second:
            error, code = refusal(second)
        assert (error["status"], code) == (503, 4503)
    error, code = refusal_once_the_slot_is_free(url)  # a stream that holds the slot and sends no frame
    assert (error["status"], code) == (408, 4408) and "no frame came for 2 s" in error["detail"]
    without_detector = serve_in_thread(tiny_model_repo).url
    with open_stream(without_detector) as stream:
        error, code = refusal(stream)
    assert code == 4422 and "no person detector is ready" in error["detail"]
    persons = urllib.parse.quote(json.dumps([{"box": [40, 60, 90, 140]}]))
    with open_stream(without_detector, f"?persons={persons}&min_pose_score=0") as stream:
        stream.send(frames[0])
        assert [p["box"] for p in answer(stream)["persons"]] == [[40, 60, 90, 140]]
