"""Finding the persons in an image with a served detector: the image in, boxes and scores out.

The detector sees the image resized onto its input by core.detection (letterbox or stretch); the resized
RGB copy is made from the decoded image directly, never from a full-size RGB array, so a large image costs
the detector's input size, not its own. Boxes come back in image pixels. A video frame, already decoded,
enters at `find_in_decoded`.
"""

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from core.detection import DetectorCodec, InputTransform
from core.model_repo import LETTERBOX
from runtime.batching import Reservation
from runtime.errors import DeadlineExceededError
from runtime.options import DetectionOptions
from runtime.pipeline.images import DecodedImage, decode_image
from runtime.pipeline.queue_room import reserve_when_free
from runtime.pipeline.regions import MIN_PERSON_SIDE_PX, PersonRegion, region_from_box
from runtime.pipeline.resources import PipelineResources
from runtime.repository.version import LoadedDetector


@dataclass(frozen=True)
class DetectorInput:
    """One image's detector input (a batch of one) and the transform from image to input pixels."""

    tensor: np.ndarray
    transform: InputTransform


def detector_input(image: DecodedImage, codec: DetectorCodec) -> DetectorInput:
    """The image as the detector takes it, resized first to the size the codec would resize it to."""
    spec = codec.input
    if spec.resize == LETTERBOX:
        ratio = min(spec.height / image.height, spec.width / image.width)
        width = min(spec.width, max(1, round(image.width * ratio)))
        height = min(spec.height, max(1, round(image.height * ratio)))
    else:
        width, height = spec.width, spec.height
    small = image.rgb_resized(width, height)
    tensor, small_transform = codec.preprocess(small)
    # image -> small (x width/image.width, y height/image.height) -> input (small_transform)
    sx, sy = small_transform.scale
    transform = InputTransform(
        scale=(sx * width / image.width, sy * height / image.height),
        offset=small_transform.offset,
        image_size=(image.height, image.width),
    )
    return DetectorInput(tensor, transform)


@dataclass(frozen=True)
class FoundPersons:
    """What the detector found in one image: a region per person (best first) and the step's times."""

    regions: list[PersonRegion]
    timing_s: dict[str, float]


async def find_persons(
    detector: LoadedDetector,
    image: DecodedImage,
    prepared: DetectorInput,
    options: DetectionOptions,
    deadline: float,
    reservation: Reservation,
) -> FoundPersons:
    """Run the detector on one image and keep the persons `options` lets through, as regions."""
    queued = time.perf_counter()
    try:
        async with asyncio.timeout_at(deadline):
            (result,) = await detector.batcher.submit([prepared.tensor], deadline, reservation)
    except TimeoutError as error:
        raise DeadlineExceededError("the request deadline passed while it waited for detection") from error
    inferred = time.perf_counter()
    found = detector.codec.decode(
        result.output,
        prepared.transform,
        score_threshold=options.score_threshold,
        iou_threshold=options.iou_threshold,
        min_size=max(options.min_size, MIN_PERSON_SIDE_PX),  # never a box a person region refuses
        max_detections=options.max_persons,
    )
    regions = [
        region_from_box(tuple(float(v) for v in box), image.width, image.height, score=float(score))
        for box, score in zip(found.boxes, found.scores, strict=True)
    ]
    timing = {
        "detect_queue_wait": result.queue_wait_s,
        "detect_inference": result.compute_s,
        "detect_boxes": time.perf_counter() - inferred,
        "detection": time.perf_counter() - queued,
    }
    return FoundPersons(regions, timing)


@dataclass(frozen=True)
class ImageDetections:
    """The persons found in one image, the image's size, and how long each step took (seconds)."""

    width: int
    height: int
    found: FoundPersons


def _decode_for_detection(
    image_bytes: bytes, detector: LoadedDetector, max_pixels: int
) -> tuple[DecodedImage, DetectorInput]:
    image = decode_image(image_bytes, max_pixels)
    return image, detector_input(image, detector.codec)


async def decode_and_find(
    detector: LoadedDetector,
    image_bytes: bytes,
    options: DetectionOptions,
    deadline: float,
    max_pixels: int,
) -> tuple[DecodedImage, FoundPersons]:
    """Decode an image and find its persons; the detector's queue room is held from before decoding."""
    reservation = detector.batcher.reserve(1)
    try:
        started = time.perf_counter()
        image, prepared = await asyncio.to_thread(_decode_for_detection, image_bytes, detector, max_pixels)
        decoded = time.perf_counter() - started
        found = await find_persons(detector, image, prepared, options, deadline, reservation)
    finally:
        detector.batcher.release(reservation)
    return image, FoundPersons(found.regions, {"decode_image": decoded, **found.timing_s})


async def detect_persons(
    detector: LoadedDetector,
    image_bytes: bytes,
    options: DetectionOptions,
    deadline: float,
    resources: PipelineResources,
) -> ImageDetections:
    """Only the persons of one image (no poses), under the same decode slots as a pose estimate."""
    started = time.perf_counter()
    async with resources.decode_slot(deadline):
        admitted = time.perf_counter()
        image, found = await decode_and_find(
            detector, image_bytes, options, deadline, resources.max_image_pixels
        )
        width, height = image.width, image.height
        del image
    timing = {"decode_wait": admitted - started, **found.timing_s}
    return ImageDetections(width, height, FoundPersons(found.regions, timing))


async def find_in_decoded(
    detector: LoadedDetector, image: DecodedImage, options: DetectionOptions, deadline: float
) -> FoundPersons:
    """The persons of an image already decoded (a video frame); it waits for room in the detector's queue,
    up to `deadline`, rather than be refused."""
    reservation = await reserve_when_free(detector.batcher, 1, deadline)
    try:
        prepared = await asyncio.to_thread(detector_input, image, detector.codec)
        return await find_persons(detector, image, prepared, options, deadline, reservation)
    finally:
        detector.batcher.release(reservation)
