"""One image's pose estimation: image bytes and person regions in, keypoints out.

reserve queue room -> decode image -> person regions -> crops -> batch -> keypoints.
Bad input raises the runtime's typed errors (runtime.errors); the edges map them to their protocol.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from core.codec import DecodedKeypoints
from runtime.batching import BatchResult, Reservation
from runtime.errors import DeadlineExceededError
from runtime.pipeline.images import DecodedImage, ScaledImage, decode_image
from runtime.pipeline.regions import (
    PersonRegion,
    PersonSpec,
    crop_person,
    crops_per_person,
    person_groups,
    region_from_person,
)
from runtime.repository.version import LoadedModel


@dataclass(frozen=True)
class PoseEstimate:
    """What the pipeline found for one image, and how long each step took (seconds).

    `scaled_image` is the upright image the keypoints refer to, scaled to the render size, kept only when
    asked (for rendering): a request waiting for inference holds its crops and at most that, never the
    full-size image.
    """

    model: LoadedModel
    scaled_image: ScaledImage | None
    width: int
    height: int
    regions: list[PersonRegion]
    keypoints: DecodedKeypoints
    timing_s: dict[str, float]


@dataclass(frozen=True)
class PipelineResources:
    """What one estimate may use: where to decode images and keypoints, and how many at once."""

    decode_slots: asyncio.Semaphore
    max_image_pixels: int
    keypoint_helpers: tuple[Executor, int] | None
    render_max_side: int


@dataclass(frozen=True)
class _PreparedImage:
    """An image turned into batcher groups, with the step times (perf_counter seconds)."""

    width: int
    height: int
    scaled_image: ScaledImage | None
    regions: list[PersonRegion]
    groups: list[np.ndarray]
    decoded_at: float
    cropped_at: float


def _prepare(
    image_bytes: bytes,
    persons: list[PersonSpec],
    flip: bool,
    model: LoadedModel,
    max_pixels: int,
    scaled_side: int | None,
) -> _PreparedImage:
    """Decode, regions, crops and groups (and the image scaled to `scaled_side`, when given): all of an
    image's CPU work before inference, in one thread hop; the full-size image is dropped on return."""
    image: DecodedImage = decode_image(image_bytes, max_pixels)
    regions = [region_from_person(person, image.width, image.height) for person in persons]
    decoded_at = time.perf_counter()
    size, pixel_scale = model.metadata.input.height, model.metadata.input.pixel_scale
    crops = np.stack([crop_person(image, region, size, pixel_scale) for region in regions])
    groups = person_groups(crops, flip)
    scaled = image.scaled_rgb(scaled_side) if scaled_side is not None else None
    return _PreparedImage(image.width, image.height, scaled, regions, groups, decoded_at, time.perf_counter())


@contextlib.asynccontextmanager
async def held(slots: asyncio.Semaphore, deadline: float, step: str) -> AsyncIterator[None]:
    """One of `slots`, waited for until `deadline` (DeadlineExceededError naming the `step` it waited for)."""
    try:
        async with asyncio.timeout_at(deadline):
            await slots.acquire()
    except TimeoutError as error:
        raise DeadlineExceededError(f"the request deadline passed while it waited to {step}") from error
    try:
        yield
    finally:
        slots.release()


def decode_persons(
    outputs: list[np.ndarray],
    regions: list[PersonRegion],
    model: LoadedModel,
    flip: bool,
    helpers: tuple[Executor, int] | None = None,
) -> DecodedKeypoints:
    """Keypoints from each group's raw output (k, nstack, J, h, w), using the last stack."""
    last_stack = np.stack([output[:, -1] for output in outputs])
    centers = np.stack([region.center for region in regions])
    scales = np.array([region.scale for region in regions])
    flipped = last_stack[:, 1] if flip else None
    return model.codec.decode(last_stack[:, 0], centers, scales, flipped_heatmaps=flipped, helpers=helpers)


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
    persons: list[PersonSpec],
    flip: bool,
    deadline: float,
    resources: PipelineResources,
    keep_scaled_image: bool = False,
) -> PoseEstimate:
    """Run one image and its persons through `model`; `deadline` is on the event loop's clock.

    Admission comes before any work: the image reserves its crops' room in the model's queue (or is
    refused, QueueFullError) before it is decoded, and at most `resources.decode_slots` images decode and crop
    at once, which bounds the memory images take (see service/README.md). With `keep_scaled_image` the
    image scaled to `resources.render_max_side` is kept for drawing.
    """
    started = time.perf_counter()
    reservation = model.batcher.reserve(len(persons) * crops_per_person(flip))
    try:
        async with held(resources.decode_slots, deadline, "decode"):
            admitted = time.perf_counter()
            scaled_side = resources.render_max_side if keep_scaled_image else None
            prepared = await asyncio.to_thread(
                _prepare, image_bytes, persons, flip, model, resources.max_image_pixels, scaled_side
            )
        width, height, regions, groups = prepared.width, prepared.height, prepared.regions, prepared.groups
        scaled_image, decoded_at, cropped_at = prepared.scaled_image, prepared.decoded_at, prepared.cropped_at
        del prepared

        queued = time.perf_counter()
        results = await _infer(model, groups, deadline, reservation)
    finally:
        model.batcher.release(reservation)
    inferred = time.perf_counter()
    outputs = [r.output for r in results]
    keypoints = decode_persons(outputs, regions, model, flip, resources.keypoint_helpers)
    finished = time.perf_counter()
    timing = {
        "decode_wait": admitted - started,
        "decode_image": decoded_at - admitted,
        "crop": cropped_at - decoded_at,
        "queue_wait": max(r.queue_wait_s for r in results),
        "inference": max(r.compute_s for r in results),
        "batch_and_inference": inferred - queued,
        "decode_keypoints": finished - inferred,
    }
    return PoseEstimate(model, scaled_image, width, height, regions, keypoints, timing)
