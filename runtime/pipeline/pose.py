"""One image's pose estimation: image bytes and person regions in, keypoints out.

reserve queue room -> decode image -> person regions (given, or found by a detector) -> crops -> batch ->
keypoints. A video frame, already decoded, enters at the regions (`estimate_boxes`).
Bad input raises the runtime's typed errors (runtime.errors); the edges map them to their protocol.
"""

import asyncio
import time
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from core.codec import DecodedKeypoints
from runtime.batching import BatchResult, Reservation
from runtime.errors import DeadlineExceededError
from runtime.memory import LARGE_IMAGE_PIXELS, release_free_memory
from runtime.options import DetectionOptions
from runtime.pipeline.detect import decode_and_find
from runtime.pipeline.images import DecodedImage, ScaledImage, decode_image
from runtime.pipeline.queue_room import reserve_when_free
from runtime.pipeline.regions import (
    PersonRegion,
    PersonSpec,
    crop_person,
    crops_per_person,
    person_groups,
    region_from_box,
    region_from_person,
)
from runtime.pipeline.resources import PipelineResources
from runtime.repository.version import LoadedDetector, LoadedModel


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
class Detection:
    """The detector a request without persons uses, and how."""

    model: LoadedDetector
    options: DetectionOptions


@dataclass(frozen=True)
class _Crops:
    """An image's persons turned into batcher groups, with the steps' times (seconds)."""

    image: DecodedImage
    regions: list[PersonRegion]
    groups: list[np.ndarray]
    timing_s: dict[str, float]


def _groups(
    image: DecodedImage, regions: list[PersonRegion], flip: bool, model: LoadedModel
) -> list[np.ndarray]:
    size, pixel_scale = model.metadata.input.height, model.metadata.input.pixel_scale
    crops = np.stack([crop_person(image, region, size, pixel_scale) for region in regions])
    return person_groups(crops, flip)


def _prepare(
    image_bytes: bytes, persons: list[PersonSpec], flip: bool, model: LoadedModel, max_pixels: int
) -> _Crops:
    """Decode, regions, crops and groups: all of an image's CPU work before inference, in one thread hop."""
    started = time.perf_counter()
    image = decode_image(image_bytes, max_pixels)
    regions = [region_from_person(person, image.width, image.height) for person in persons]
    decoded = time.perf_counter()
    groups = _groups(image, regions, flip, model)
    timing = {"decode_image": decoded - started, "crop": time.perf_counter() - decoded}
    return _Crops(image, regions, groups, timing)


async def _detect_and_crop(
    model: LoadedModel,
    image_bytes: bytes,
    flip: bool,
    deadline: float,
    detection: Detection,
    max_pixels: int,
) -> tuple[_Crops, Reservation | None]:
    """Decode, find the persons, crop them; the pose queue's room is reserved once their number is known."""
    image, found = await decode_and_find(
        detection.model, image_bytes, detection.options, deadline, max_pixels
    )
    if not found.regions:
        return _Crops(image, [], [], {**found.timing_s, "crop": 0.0}), None
    pose_room = model.batcher.reserve(len(found.regions) * crops_per_person(flip))
    try:
        started = time.perf_counter()
        groups = await asyncio.to_thread(_groups, image, found.regions, flip, model)
    except BaseException:
        model.batcher.release(pose_room)
        raise
    timing = {**found.timing_s, "crop": time.perf_counter() - started}
    return _Crops(image, found.regions, groups, timing), pose_room


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


def _no_keypoints(model: LoadedModel) -> DecodedKeypoints:
    joints = model.metadata.output.num_joints
    return DecodedKeypoints(np.zeros((0, joints, 2)), np.zeros((0, joints)), np.zeros((0, joints, 2)))


async def submit_groups(
    model: LoadedModel, groups: list[np.ndarray], deadline: float, reservation: Reservation | None
) -> list[BatchResult]:
    """The groups' outputs from the model's batcher, in the room `reservation` holds, by `deadline`."""
    """The groups' outputs from the model's batcher, in the room `reservation` holds, by `deadline`."""
    try:
        async with asyncio.timeout_at(deadline):
            return await model.batcher.submit(groups, deadline, reservation)
    except TimeoutError as error:
        raise DeadlineExceededError("the request deadline passed while it waited for inference") from error


async def estimate(
    model: LoadedModel,
    image_bytes: bytes,
    persons: list[PersonSpec] | None,
    flip: bool,
    deadline: float,
    resources: PipelineResources,
    render_side: int | None = None,
    detection: Detection | None = None,
) -> PoseEstimate:
    """Run one image and its persons through `model`; `deadline` is on the event loop's clock. With
    `persons` None, `detection` finds them first.

    Admission comes before any work: the image reserves its crops' room in the model's queue (or is
    refused, QueueFullError) before it is decoded (with detection: the detector's room, and the pose
    queue's once the persons are found), and at most `resources.decode_slots` images decode, detect and
    crop at once, which bounds the memory images take (see service/README.md). With `render_side` the image
    scaled to at most that many pixels a side is kept for drawing (made while the decode slot is held).
    """
    if persons is None and detection is None:
        raise ValueError("estimate needs persons, or a detector to find them")
    started = time.perf_counter()
    reservation = None if persons is None else model.batcher.reserve(len(persons) * crops_per_person(flip))
    try:
        async with resources.decode_slot(deadline):
            admitted = time.perf_counter()
            max_pixels = resources.max_image_pixels
            if persons is not None:
                prepared = await asyncio.to_thread(_prepare, image_bytes, persons, flip, model, max_pixels)
            else:
                assert detection is not None
                prepared, reservation = await _detect_and_crop(
                    model, image_bytes, flip, deadline, detection, max_pixels
                )
            scaled_image = None
            if render_side is not None:
                scaled_image = await asyncio.to_thread(prepared.image.scaled_rgb, render_side)
        width, height, regions = prepared.image.width, prepared.image.height, prepared.regions
        groups, prepared_timing = prepared.groups, prepared.timing_s
        del prepared  # the image goes now: a waiting request holds only its crops (and a scaled image)
        if width * height >= LARGE_IMAGE_PIXELS:
            await asyncio.to_thread(release_free_memory)

        queued = time.perf_counter()
        results = await submit_groups(model, groups, deadline, reservation) if groups else []
    finally:
        if reservation is not None:
            model.batcher.release(reservation)
    inferred = time.perf_counter()
    if results:
        outputs = [r.output for r in results]
        keypoints = decode_persons(outputs, regions, model, flip, resources.keypoint_helpers)
    else:
        keypoints = _no_keypoints(model)
    finished = time.perf_counter()
    timing = {
        "decode_wait": admitted - started,
        **prepared_timing,
        "queue_wait": max((r.queue_wait_s for r in results), default=0.0),
        "inference": max((r.compute_s for r in results), default=0.0),
        "batch_and_inference": inferred - queued,
        "decode_keypoints": finished - inferred,
    }
    return PoseEstimate(model, scaled_image, width, height, regions, keypoints, timing)


async def estimate_boxes(
    model: LoadedModel,
    image: DecodedImage,
    boxes: np.ndarray,
    flip: bool,
    deadline: float,
    resources: PipelineResources,
) -> DecodedKeypoints:
    """Keypoints of the persons in `boxes` (K, 4) of an image already decoded (a video frame), through the
    same batcher as every image. The crops wait for room in the queue, up to `deadline`, rather than be
    refused: a video cannot retry one frame."""
    regions = [region_from_box(tuple(float(v) for v in box), image.width, image.height) for box in boxes]
    if not regions:
        return _no_keypoints(model)
    reservation = await reserve_when_free(model.batcher, len(regions) * crops_per_person(flip), deadline)
    try:
        groups = await asyncio.to_thread(_groups, image, regions, flip, model)
        results = await submit_groups(model, groups, deadline, reservation)
    finally:
        model.batcher.release(reservation)
    outputs = [result.output for result in results]
    return decode_persons(outputs, regions, model, flip, resources.keypoint_helpers)
