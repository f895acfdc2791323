"""WS /v1/pose/stream: live frames (a webcam) in, each answered with its tracked persons.

The client sends each frame as a binary message (a JPEG, PNG, BMP or WebP image) and the server answers
with a JSON text message per frame it tracked (service.video_schemas.StreamAnswer). Tracking state lives
as long as the connection. Frames are never queued: while one is being tracked, only the newest frame that
arrived meanwhile waits, and the ones it replaced are dropped unanswered; every answer says how many were
received and dropped so far, so a client can slow down. A frame's time is when the server received it.
An open stream holds one of the runtime's video slots; one that sends nothing for `stream_idle_timeout_s`
is closed.

The API key: `Authorization: Bearer <key>` where the client can set headers, else (a browser) in the
WebSocket subprotocols: offer `pose-stream` and `bearer.<key as unpadded base64url>`; the server accepts
with `pose-stream`. Options are query parameters, as the form fields of POST /v1/pose/video. A refusal
(wrong key, bad options, no slot, no detector) is a StreamError message, then a close with code 4000 +
the HTTP status it would have had (4401, 4422, 4503, ...).
"""

import asyncio
import base64
import binascii
import json
import logging
import secrets
from dataclasses import dataclass, field

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.datastructures import Headers

from runtime.engine import PoseRuntime
from runtime.errors import PoseRuntimeError
from runtime.pipeline.images import decode_image
from runtime.video.live import LiveTracker
from service.api.pose import detection_options
from service.api.video import first_boxes, tracking_options
from service.errors import ServiceError, runtime_status
from service.image_request import PERSONS_FIELD, multipart_options
from service.settings import Settings
from service.video_lines import frame_line
from service.video_schemas import VideoOptions

STREAM_PATH = "/v1/pose/stream"
STREAM_PROTOCOL = "pose-stream"
KEY_PROTOCOL_PREFIX = "bearer."
CLOSE_CODE_BASE = 4000  # + the HTTP status of the refusal
MESSAGE_TOO_BIG = 1009
UNSUPPORTED_DATA = 1003
INTERNAL_ERROR = 1011
# A WebSocket close reason is at most 123 bytes.
_REASON_CHARS = 120

logger = logging.getLogger(__name__)
router = APIRouter(tags=["video"])


class StreamRefused(Exception):
    """Why the stream ends: the error message sent before closing, and the close code."""

    def __init__(self, status: int, detail: str, close_code: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.close_code = close_code or CLOSE_CODE_BASE + status


def _offered_key(protocols: list[str]) -> str | None:
    for protocol in protocols:
        if protocol.startswith(KEY_PROTOCOL_PREFIX):
            encoded = protocol.removeprefix(KEY_PROTOCOL_PREFIX)
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise StreamRefused(
                    401, "the key in the subprotocol is not base64url of UTF-8 text"
                ) from None
    return None


def check_key(api_key: str | None, headers: Headers, protocols: list[str]) -> None:
    """StreamRefused (401) unless the service has no key or the client sent it, as a header or subprotocol."""
    if api_key is None:
        return
    sent = _offered_key(protocols)
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if sent is None and scheme.lower() == "bearer":
        sent = credentials
    if sent is None:
        raise StreamRefused(
            401,
            f"this service needs an API key: send 'Authorization: Bearer <key>', or offer the subprotocols "
            f"'{STREAM_PROTOCOL}' and '{KEY_PROTOCOL_PREFIX}<key as base64url>'",
        )
    if not secrets.compare_digest(sent.encode(), api_key.encode()):
        raise StreamRefused(401, "the API key is wrong")


def stream_options(query: dict[str, str], max_persons: int) -> VideoOptions:
    fields = {key: value for key, value in query.items() if key != PERSONS_FIELD}
    return multipart_options(fields, query.get(PERSONS_FIELD), VideoOptions, max_persons)


@dataclass
class NewestFrame:
    """The one frame waiting to be tracked: a frame that arrives while another waits replaces it."""

    received: int = 0
    dropped: int = 0
    _waiting: tuple[int, float, bytes] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, data: bytes, received_at: float) -> None:
        if self._waiting is not None:
            self.dropped += 1
        self._waiting = (self.received, received_at, data)
        self.received += 1
        self._ready.set()

    async def take(self) -> tuple[int, float, bytes]:
        """(frame index, time received, encoded image) of the newest frame, once there is one."""
        await self._ready.wait()
        self._ready.clear()
        assert self._waiting is not None
        frame, self._waiting = self._waiting, None
        return frame


async def _receive_frames(websocket: WebSocket, newest: NewestFrame, max_bytes: int, idle_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            async with asyncio.timeout(idle_s):
                message = await websocket.receive()
        except TimeoutError:
            raise StreamRefused(408, f"no frame came for {idle_s:g} s: the stream is closed") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        data = message.get("bytes")
        if data is None:
            raise StreamRefused(
                415, "send each frame as a binary message: a JPEG, PNG, BMP or WebP image", UNSUPPORTED_DATA
            )
        if len(data) > max_bytes:
            raise StreamRefused(
                413, f"a frame of {len(data)} bytes is over the limit of {max_bytes}", MESSAGE_TOO_BIG
            )
        newest.put(data, loop.time())


def _rgb(data: bytes, max_pixels: int) -> np.ndarray:
    image = decode_image(data, max_pixels).pixels
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


async def _answer_frames(
    websocket: WebSocket,
    newest: NewestFrame,
    tracker: LiveTracker,
    names: list[str],
    smooth: bool,
    max_pixels: int,
) -> None:
    loop = asyncio.get_running_loop()
    start: float | None = None
    while True:
        index, received_at, data = await newest.take()
        start = received_at if start is None else start
        try:
            image = await asyncio.to_thread(_rgb, data, max_pixels)
            result = await tracker.track(index, received_at - start, image)
        except PoseRuntimeError as error:
            await websocket.send_text(_error_message(runtime_status(error), error.message, index))
            continue
        answer = frame_line(result, names, smooth)
        answer.update(
            received=newest.received,
            dropped=newest.dropped,
            latency_ms=round((loop.time() - received_at) * 1000, 3),
        )
        await websocket.send_text(json.dumps(answer, separators=(",", ":")))


def _error_message(status: int, detail: str, frame: int | None = None) -> str:
    return json.dumps({"error": True, "status": status, "detail": detail, "frame": frame})


async def _serve(websocket: WebSocket, runtime: PoseRuntime, settings: Settings) -> None:
    check_key(settings.api_key, websocket.headers, websocket.scope.get("subprotocols", []))
    try:
        options = stream_options(dict(websocket.query_params), settings.max_persons)
        detection = detection_options(options, runtime.options.detection)
        frame_models = runtime.lease_frame_models(
            options.model, options.version, options.flip, detection, first_boxes(options.persons)
        )
        with frame_models as models:
            tracker = LiveTracker(
                models.estimate, models.detect, tracking_options(options, settings.video_pose_options())
            )
            smooth = settings.smooth if options.smooth is None else options.smooth
            newest = NewestFrame()
            names = list(models.model.metadata.joint_names)
            receiving = asyncio.ensure_future(
                _receive_frames(
                    websocket, newest, settings.stream_max_frame_bytes, settings.stream_idle_timeout_s
                )
            )
            answering = asyncio.ensure_future(
                _answer_frames(websocket, newest, tracker, names, smooth, settings.max_image_pixels)
            )
            try:
                done, _ = await asyncio.wait({receiving, answering}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (receiving, answering):
                    task.cancel()
                await asyncio.gather(receiving, answering, return_exceptions=True)
            for task in done:
                task.result()
    except ServiceError as error:
        raise StreamRefused(error.status_code, error.message) from error
    except PoseRuntimeError as error:
        raise StreamRefused(runtime_status(error), error.message) from error


@router.websocket(STREAM_PATH)
async def pose_stream(websocket: WebSocket) -> None:
    protocols: list[str] = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=STREAM_PROTOCOL if STREAM_PROTOCOL in protocols else None)
    try:
        await _serve(websocket, websocket.app.state.runtime, websocket.app.state.settings)
    except WebSocketDisconnect:
        return
    except StreamRefused as refusal:
        await _close(websocket, refusal.status, refusal.detail, refusal.close_code)
        return
    except Exception:
        logger.exception("a pose stream failed")
        await _close(websocket, 500, "internal error; the log holds it", INTERNAL_ERROR)
        return
    await websocket.close()


async def _close(websocket: WebSocket, status: int, detail: str, code: int) -> None:
    try:
        await websocket.send_text(_error_message(status, detail))
        await websocket.close(code, detail[:_REASON_CHARS])
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client has gone already
