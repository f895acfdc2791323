"""The request pipeline of POST /v1/pose: an HTTP request in, the response body out.

read -> resolve the model -> reserve queue room -> decode image -> person regions -> crops -> batch ->
keypoints -> response.
Every step's bad input raises ServiceError with its 4xx; the batcher's failures come out as BatcherError,
which the route maps to HTTP.
"""

import asyncio
import time
from dataclasses import dataclass

import numpy as np
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from core.codec import DecodedKeypoints
from service.batching import BatchResult, DeadlineExceededError, Reservation
from service.errors import ServiceError
from service.images import DecodedImage, decode_image
from service.live_repository import LiveRepository
from service.model_version import LoadedModel
from service.pose_request import read_pose_request
from service.regions import PersonRegion, crop_person, crops_per_person, person_groups, region_from_person
from service.schemas import ImageSize, Keypoint, ModelRef, Person, PersonPose, PoseResponse
from service.settings import Settings
from service.telemetry import ServiceMetrics


@dataclass(frozen=True)
class PoseEstimate:
    """What the pipeline found for one request, and how long each step took (seconds).

    `image` is the decoded upright image the keypoints refer to, kept only for `render=png`: a request
    waiting for inference holds its crops, not its image.
    """

    model: LoadedModel
    image: DecodedImage | None
    width: int
    height: int
    regions: list[PersonRegion]
    keypoints: DecodedKeypoints
    timing_s: dict[str, float]


@dataclass(frozen=True)
class _PreparedRequest:
    """A request's image turned into batcher groups, with the step times (perf_counter seconds)."""

    image: DecodedImage
    regions: list[PersonRegion]
    groups: list[np.ndarray]
    decoded_at: float
    cropped_at: float


def _prepare(
    image_bytes: bytes, persons: list[Person], flip: bool, model: LoadedModel, max_pixels: int
) -> _PreparedRequest:
    """Decode, regions, crops and groups: all of a request's CPU work before inference, in one thread hop."""
    image = decode_image(image_bytes, max_pixels)
    regions = [region_from_person(person, image.width, image.height) for person in persons]
    decoded_at = time.perf_counter()
    size, pixel_scale = model.metadata.input.height, model.metadata.input.pixel_scale
    crops = np.stack([crop_person(image, region, size, pixel_scale) for region in regions])
    groups = person_groups(crops, flip)
    return _PreparedRequest(image, regions, groups, decoded_at, time.perf_counter())


def decode_persons(
    outputs: list[np.ndarray], regions: list[PersonRegion], model: LoadedModel, flip: bool
) -> DecodedKeypoints:
    """Keypoints from each group's raw output (k, nstack, J, h, w), using the last stack."""
    last_stack = np.stack([output[:, -1] for output in outputs])
    centers = np.stack([region.center for region in regions])
    scales = np.array([region.scale for region in regions])
    flipped = last_stack[:, 1] if flip else None
    return model.codec.decode(last_stack[:, 0], centers, scales, flipped_heatmaps=flipped)


async def _infer(
    model: LoadedModel, groups: list[np.ndarray], deadline: float, reservation: Reservation
) -> list[BatchResult]:
    try:
        async with asyncio.timeout_at(deadline):
            return await model.batcher.submit(groups, deadline, reservation)
    except TimeoutError as error:
        raise DeadlineExceededError("the request deadline passed while it waited for inference") from error


async def estimate(
    model: LoadedModel,
    image_bytes: bytes,
    persons: list[Person],
    flip: bool,
    deadline: float,
    settings: Settings,
    metrics: ServiceMetrics,
    decode_slots: asyncio.Semaphore,
    keep_image: bool = False,
) -> PoseEstimate:
    """Run one request's image and persons through `model`; `deadline` is on the event loop's clock.

    Admission comes before any work: the request reserves its crops' room in the model's queue (or is
    refused, QueueFullError) before its image is decoded, and at most `decode_slots` requests decode and
    crop at once, which bounds the memory images take (see the README).
    """
    started = time.perf_counter()
    reservation = model.batcher.reserve(len(persons) * crops_per_person(flip))
    try:
        try:
            async with asyncio.timeout_at(deadline):
                await decode_slots.acquire()
        except TimeoutError as error:
            raise DeadlineExceededError("the request deadline passed while it waited to decode") from error
        try:
            admitted = time.perf_counter()
            prepared = await run_in_threadpool(
                _prepare, image_bytes, persons, flip, model, settings.max_image_pixels
            )
        finally:
            decode_slots.release()
        width, height, regions = prepared.image.width, prepared.image.height, prepared.regions
        kept_image = prepared.image if keep_image else None
        groups, decoded_at, cropped_at = prepared.groups, prepared.decoded_at, prepared.cropped_at
        del prepared  # the image goes now, unless kept for rendering: a waiting request holds only crops

        queued = time.perf_counter()
        results = await _infer(model, groups, deadline, reservation)
    finally:
        model.batcher.release(reservation)
    inferred = time.perf_counter()
    keypoints = decode_persons([r.output for r in results], regions, model, flip)
    queue_wait = max(r.queue_wait_s for r in results)
    metrics.queue_wait.labels(model=model.label).observe(queue_wait)
    finished = time.perf_counter()
    timing = {
        "decode_wait": admitted - started,
        "decode_image": decoded_at - admitted,
        "crop": cropped_at - decoded_at,
        "queue_wait": queue_wait,
        "inference": max(r.compute_s for r in results),
        "batch_and_inference": inferred - queued,
        "decode_keypoints": finished - inferred,
    }
    return PoseEstimate(model, kept_image, width, height, regions, keypoints, timing)


def response_body(found: PoseEstimate, timing_s: dict[str, float]) -> PoseResponse:
    names = found.model.metadata.joint_names
    keypoints = found.keypoints
    persons = [
        PersonPose(
            box=[float(v) for v in region.box],
            center=[float(v) for v in region.center],
            scale=float(region.scale),
            keypoints=[
                Keypoint(name=name, x=float(xy[0]), y=float(xy[1]), score=float(score))
                for name, xy, score in zip(names, keypoints.image_xy[i], keypoints.scores[i], strict=True)
            ],
        )
        for i, region in enumerate(found.regions)
    ]
    return PoseResponse(
        model=ModelRef(
            name=found.model.name,
            version=found.model.version,
            backend=found.model.key.backend_name,
            precision=found.model.metadata.precision,
        ),
        image=ImageSize(width=found.width, height=found.height),
        persons=persons,
        timing_ms={key: round(value * 1000, 3) for key, value in timing_s.items()},
    )


async def run(
    request: Request,
    settings: Settings,
    repository: LiveRepository,
    metrics: ServiceMetrics,
    decode_slots: asyncio.Semaphore,
    keep_image: bool = False,
) -> tuple[PoseEstimate, PoseResponse]:
    """The whole pipeline for one HTTP request: what it found (with the image when `keep_image`, for
    rendering) and the response body.

    Raises ServiceError or BatcherError.
    """
    started = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + settings.request_deadline_ms / 1000
    pose_request = await read_pose_request(request, settings.max_persons)
    options = pose_request.options
    if len(options.persons) > settings.max_persons:
        count = len(options.persons)
        raise ServiceError(422, f"too many persons: {count}, the limit is {settings.max_persons}")
    with repository.lease(options.model, options.version, settings.default_model) as model:
        read = time.perf_counter()
        image_bytes, persons, flip = pose_request.image_bytes, options.persons, options.flip
        found = await estimate(
            model, image_bytes, persons, flip, deadline, settings, metrics, decode_slots, keep_image
        )
    timing = {"read_request": read - started, **found.timing_s, "total": time.perf_counter() - started}
    return found, response_body(found, timing)
