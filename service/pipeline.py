"""The request pipeline of POST /v1/pose: an HTTP request in, the response body out.

read -> resolve the model -> decode image -> person regions -> crops -> batch -> keypoints -> response.
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
from service.batching import BatchResult, DeadlineExceededError
from service.errors import ServiceError
from service.images import decode_image
from service.live_repository import LiveRepository
from service.model_version import LoadedModel
from service.pose_request import read_pose_request
from service.regions import PersonRegion, crop_person, person_groups, region_from_person
from service.schemas import ImageSize, Keypoint, ModelRef, Person, PersonPose, PoseResponse
from service.settings import Settings
from service.telemetry import ServiceMetrics


@dataclass(frozen=True)
class PoseEstimate:
    """What the pipeline found for one request, and how long each step took (seconds).

    `image` is the decoded upright RGB image the keypoints refer to, kept for `render=png`.
    """

    model: LoadedModel
    image: np.ndarray
    width: int
    height: int
    regions: list[PersonRegion]
    keypoints: DecodedKeypoints
    timing_s: dict[str, float]


def _crops(image: np.ndarray, regions: list[PersonRegion], model: LoadedModel) -> np.ndarray:
    size, pixel_scale = model.metadata.input.height, model.metadata.input.pixel_scale
    return np.stack([crop_person(image, region, size, pixel_scale) for region in regions])


def decode_persons(
    outputs: list[np.ndarray], regions: list[PersonRegion], model: LoadedModel, flip: bool
) -> DecodedKeypoints:
    """Keypoints from each group's raw output (k, nstack, J, h, w), using the last stack."""
    last_stack = np.stack([output[:, -1] for output in outputs])
    centers = np.stack([region.center for region in regions])
    scales = np.array([region.scale for region in regions])
    flipped = last_stack[:, 1] if flip else None
    return model.codec.decode(last_stack[:, 0], centers, scales, flipped_heatmaps=flipped)


async def _infer(model: LoadedModel, groups: list[np.ndarray], deadline: float) -> list[BatchResult]:
    try:
        async with asyncio.timeout_at(deadline):
            return await model.batcher.submit(groups, deadline)
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
) -> PoseEstimate:
    """Run one request's image and persons through `model`; `deadline` is on the event loop's clock."""
    started = time.perf_counter()
    image = await run_in_threadpool(decode_image, image_bytes, settings.max_image_pixels)
    height, width = image.shape[:2]
    regions = [region_from_person(person, width, height) for person in persons]
    decoded_image = time.perf_counter()
    crops = await run_in_threadpool(_crops, image, regions, model)
    groups = person_groups(crops, flip)

    queued = time.perf_counter()
    results = await _infer(model, groups, deadline)
    inferred = time.perf_counter()
    keypoints = decode_persons([r.output for r in results], regions, model, flip)
    queue_wait = max(r.queue_wait_s for r in results)
    metrics.queue_wait.labels(model=model.label).observe(queue_wait)
    finished = time.perf_counter()
    timing = {
        "decode_image": decoded_image - started,
        "crop": queued - decoded_image,
        "queue_wait": queue_wait,
        "inference": max(r.compute_s for r in results),
        "batch_and_inference": inferred - queued,
        "decode_keypoints": finished - inferred,
    }
    return PoseEstimate(model, image, width, height, regions, keypoints, timing)


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
    request: Request, settings: Settings, repository: LiveRepository, metrics: ServiceMetrics
) -> tuple[PoseEstimate, PoseResponse]:
    """The whole pipeline for one HTTP request: what it found and the response body.

    Raises ServiceError or BatcherError.
    """
    started = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + settings.request_deadline_ms / 1000
    pose_request = await read_pose_request(request)
    options = pose_request.options
    if len(options.persons) > settings.max_persons:
        count = len(options.persons)
        raise ServiceError(422, f"too many persons: {count}, the limit is {settings.max_persons}")
    with repository.lease(options.model, options.version, settings.default_model) as model:
        read = time.perf_counter()
        found = await estimate(
            model, pose_request.image_bytes, options.persons, options.flip, deadline, settings, metrics
        )
    timing = {"read_request": read - started, **found.timing_s, "total": time.perf_counter() - started}
    return found, response_body(found, timing)
