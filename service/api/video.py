"""POST /v1/pose/video: a video file in, each frame's tracked and smoothed persons out as JSON Lines, as
soon as each frame is done (or, with render=mp4, the video with the skeletons drawn).

Everything that can be refused before streaming is (413, 415, 400 for a video that cannot be opened or
whose first frame does not decode, 422 for options, 503 when every video slot is taken), as a JSON error.
A problem found while streaming (a damaged frame further on, a deadline) ends the stream with an error
line. A client that hangs up stops the work: the pending frames are cancelled and the file is closed.
"""

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import TypeAdapter
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from core.geometry import DEFAULT_BOX_PADDING, center_scale_to_box
from runtime.engine import PoseRuntime
from runtime.errors import PoseRuntimeError
from runtime.pipeline.regions import region_from_box
from runtime.video.decode import VideoInfo, VideoReader
from runtime.video.encode import VideoWriter
from runtime.video.frame_models import FrameModels
from runtime.video.orchestrator import VideoPoseOptions, track_poses
from runtime.video.rendering import draw_tracked
from runtime.video.threaded import iterate_in_thread
from service.api.deps import RuntimeDep, SettingsDep, require_api_key
from service.api.pose import detection_options, model_ref
from service.api.request_bodies import inline_definitions, multipart_schema
from service.errors import ServiceError, runtime_status
from service.image_request import PERSONS_FIELD, multipart_options
from service.logs import request_id_var
from service.schemas import ErrorResponse, Person
from service.settings import Settings
from service.video_lines import done_line, encode_line, error_line, frame_line
from service.video_schemas import DoneLine, ErrorLine, FrameLine, TrackingFields, VideoOptions

NDJSON_MEDIA_TYPE = "application/x-ndjson"
MP4_MEDIA_TYPE = "video/mp4"
VIDEO_FIELD = "video"
VIDEO_PATH = "/v1/pose/video"
FRAME_COUNT_HEADER = "X-Video-Frame-Count"
# nginx's status for a request whose client closed the connection before the answer: logged, never sent.
CLIENT_CLOSED_STATUS = 499
# An MP4 is written at the source's frame rate; a file that declares none at this one.
FALLBACK_FPS = 25.0

logger = logging.getLogger(__name__)
router = APIRouter(tags=["video"], dependencies=[Depends(require_api_key)])
T = TypeVar("T")

VIDEO_FILE = {"type": "string", "format": "binary", "description": "MP4, MOV, MKV or WebM file"}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": multipart_schema(
                    inline_definitions(VideoOptions.model_json_schema()), VIDEO_FIELD, VIDEO_FILE
                )
            }
        },
    }
}
_LINE_SCHEMA = inline_definitions(TypeAdapter(FrameLine | DoneLine | ErrorLine).json_schema())
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "one JSON line per frame, as soon as it is done, then a line with the totals (or an "
        "error line); with render=mp4 the video with the skeletons drawn",
        "content": {NDJSON_MEDIA_TYPE: {"schema": _LINE_SCHEMA}, MP4_MEDIA_TYPE: {}},
    },
    **{status: {"model": ErrorResponse} for status in (400, 401, 404, 408, 413, 415, 422, 503, 504)},
}
RenderQuery = Annotated[
    Literal["mp4"] | None,
    Query(description="'mp4': answer with the video and the skeletons drawn on it instead of JSON Lines"),
]


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def tracking_options(fields: TrackingFields, defaults: VideoPoseOptions) -> VideoPoseOptions:
    """The service's tracking and smoothing with what the request sets on top."""
    tracking, smoothing = defaults.tracking, defaults.smoothing
    return replace(
        defaults,
        tracking=replace(
            tracking,
            detect_every=_or(fields.detect_every, tracking.detect_every),
            max_missed_frames=_or(fields.max_missed_frames, tracking.max_missed_frames),
            weak_track_score=_or(fields.weak_track_score, tracking.weak_track_score),
            min_pose_score=_or(fields.min_pose_score, tracking.min_pose_score),
            joint_score_threshold=_or(fields.joint_score_threshold, tracking.joint_score_threshold),
            similarity=_or(fields.similarity, tracking.similarity),
            min_similarity=_or(fields.min_similarity, tracking.min_similarity),
        ),
        smoothing=replace(
            smoothing,
            min_cutoff_hz=_or(fields.smooth_min_cutoff_hz, smoothing.min_cutoff_hz),
            beta=_or(fields.smooth_beta, smoothing.beta),
        ),
    )


def first_boxes(persons: list[Person] | None) -> np.ndarray | None:
    """The given persons as boxes whose crops are theirs (a centre and scale: the box that pads to it)."""
    if persons is None:
        return None
    boxes = [
        person.box
        if person.box is not None
        else center_scale_to_box(np.asarray(person.center), float(person.scale or 0) / DEFAULT_BOX_PADDING)
        for person in persons
    ]
    return np.array(boxes, dtype=np.float64).reshape(-1, 4)


def check_on_frame(boxes: np.ndarray | None, info: VideoInfo) -> None:
    """Each given person must overlap the video's frame (422 naming the box otherwise)."""
    for box in [] if boxes is None else boxes:
        region_from_box(tuple(float(v) for v in box), info.width, info.height)


async def read_video_form(request: Request, max_persons: int) -> tuple[FormData, UploadFile, VideoOptions]:
    """The form (spooled to disk beyond 1 MiB: close it when done), its video file and the options."""
    form = await request.form(max_files=1, max_fields=1 + len(VideoOptions.model_fields))
    try:
        upload = form.get(VIDEO_FIELD)
        if not isinstance(upload, UploadFile):
            raise ServiceError(422, f"multipart field '{VIDEO_FIELD}' is missing or is not a file")
        fields = {
            key: value for key, value in form.items() if isinstance(value, str) and key != PERSONS_FIELD
        }
        persons = form.get(PERSONS_FIELD)
        if persons is not None and not isinstance(persons, str):
            raise ServiceError(
                422, f"multipart field '{PERSONS_FIELD}' must be text (a JSON list of persons)"
            )
        options = multipart_options(fields, persons, VideoOptions, max_persons)
    except BaseException:
        await form.close()
        raise
    return form, upload, options


class _CleanedUpStream(StreamingResponse):
    """A stream that closes its lines and then `cleanup` however it ends: finished, failed or cut off."""

    def __init__(self, lines: AsyncIterator[bytes], cleanup: contextlib.AsyncExitStack, **kwargs: Any):
        super().__init__(lines, **kwargs)
        self._lines = lines
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._lines, "aclose", None)
            if aclose is not None:
                await aclose()
            await self._cleanup.aclose()


async def _frame_lines(
    reader: VideoReader, models: FrameModels, options: VideoPoseOptions, smooth: bool
) -> AsyncIterator[bytes]:
    started = time.perf_counter()
    names = models.model.metadata.joint_names
    frames = tracks = 0
    try:
        async for result in track_poses(
            iterate_in_thread(reader.frames()), models.estimate, models.detect, options
        ):
            frames += 1
            tracks = max([tracks, *result.started_track_ids])
            yield encode_line(frame_line(result, names, smooth))
    except PoseRuntimeError as error:
        yield encode_line(error_line(runtime_status(error), error.message, frames, request_id_var.get()))
        return
    except Exception:
        logger.exception("a video failed after %d frames", frames)
        detail = "internal error; the log holds it under the request id"
        yield encode_line(error_line(500, detail, frames, request_id_var.get()))
        return
    detector = None if models.detector is None else model_ref(models.detector)
    elapsed = time.perf_counter() - started
    yield encode_line(
        done_line(
            frames, tracks, models.detector_runs, elapsed, model_ref(models.model), detector, reader.info
        )
    )


async def _render(
    reader: VideoReader, models: FrameModels, options: VideoPoseOptions, smooth: bool, path: str
) -> None:
    """Every frame drawn with its tracked persons, written as MP4 to `path`."""
    images: dict[int, np.ndarray] = {}  # the frames in flight (a few), until their poses are drawn

    async def remembered() -> AsyncIterator[tuple[int, float, np.ndarray]]:
        async for frame in iterate_in_thread(reader.frames()):
            images[frame.frame_index] = frame.image
            yield frame

    writer = VideoWriter(path, reader.info.frame_rate or FALLBACK_FPS, container="mp4")
    try:
        async for result in track_poses(remembered(), models.estimate, models.detect, options):
            drawn = await asyncio.to_thread(draw_tracked, images.pop(result.index), result.persons, smooth)
            await asyncio.to_thread(writer.write, drawn)
    finally:
        await asyncio.to_thread(writer.close)


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Awaitable[None]) -> bool:
    """Run `work` to its end (True), or until the client hangs up (False: the work is cancelled)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_until_disconnected(request.receive))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, watch):
            pending.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    if not task.done() or task.cancelled():
        await asyncio.gather(task, return_exceptions=True)
        return False
    task.result()
    return True


def _open_models(
    runtime: PoseRuntime, settings: Settings, options: VideoOptions, boxes: np.ndarray | None
) -> contextlib.AbstractContextManager[FrameModels]:
    detection = detection_options(options, runtime.options.detection)
    return runtime.lease_frame_models(options.model, options.version, options.flip, detection, boxes)


@router.post(
    VIDEO_PATH,
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_REQUEST_BODY,
    summary="Track and smooth the poses of the persons in a video, streamed frame by frame as JSON Lines",
)
async def pose_video(
    request: Request, settings: SettingsDep, runtime: RuntimeDep, render: RenderQuery = None
) -> Response:
    """Multipart: `video` (MP4, MOV, MKV or WebM), optional `persons` of the first frame (without them the
    person detector finds the persons), `flip`, `model`, `version`, `detect_*` and the tracking and
    smoothing options."""
    cleanup = contextlib.AsyncExitStack()
    try:
        form, upload, options = await read_video_form(request, settings.max_persons)
        cleanup.push_async_callback(form.close)
        boxes = first_boxes(options.persons)
        reader = await asyncio.to_thread(VideoReader, upload.file, settings.video_limits())
        cleanup.push_async_callback(asyncio.to_thread, reader.close)  # waits for a frame being decoded
        check_on_frame(boxes, reader.info)
        models = cleanup.enter_context(_open_models(runtime, settings, options, boxes))
    except BaseException:
        await cleanup.aclose()
        raise
    pose_options = tracking_options(options, settings.video_pose_options())
    smooth = settings.smooth if options.smooth is None else options.smooth
    if render == "mp4":
        async with cleanup:
            handle, path = tempfile.mkstemp(suffix=".mp4", prefix="hgpose-")
            os.close(handle)
            try:
                finished = await unless_disconnected(
                    request, _render(reader, models, pose_options, smooth, path)
                )
            except BaseException:
                os.unlink(path)
                raise
            if not finished:
                os.unlink(path)
                return Response(status_code=CLIENT_CLOSED_STATUS)
        return FileResponse(path, media_type=MP4_MEDIA_TYPE, background=BackgroundTask(os.unlink, path))
    count = reader.info.frame_count
    headers = {FRAME_COUNT_HEADER: str(count)} if count is not None else {}
    lines = _frame_lines(reader, models, pose_options, smooth)
    return _CleanedUpStream(lines, cleanup, media_type=NDJSON_MEDIA_TYPE, headers=headers)
