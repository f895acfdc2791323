"""POST /v1/pose: an image and person regions in (multipart or JSON), 16 keypoints per person out."""

import asyncio
import time

import numpy as np
from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.api.deps import MetricsDep, RepositoryDep, SettingsDep, require_api_key
from service.batching import (
    BatcherClosedError,
    BatchResult,
    DeadlineExceededError,
    InferenceError,
    QueueFullError,
)
from service.errors import ServiceError
from service.images import DecodedImage, decode_image
from service.payload import decode_base64, max_json_separators, parse_json
from service.pose import (
    PersonRegion,
    crop_person,
    decode_persons,
    person_groups,
    region_from_box,
    region_from_center,
)
from service.repository import ModelVersion
from service.schemas import (
    ErrorResponse,
    ImageSize,
    Keypoint,
    ModelRef,
    Person,
    PersonPose,
    PoseJsonRequest,
    PoseOptions,
    PoseResponse,
    inline_json_schema,
)
from service.settings import Settings
from service.validation import validation_message

router = APIRouter(tags=["pose"], dependencies=[Depends(require_api_key)])

_JSON_BODY_SCHEMA = inline_json_schema(PoseJsonRequest)
_MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["image", "persons"],
    "additionalProperties": False,
    "properties": {
        "image": {"type": "string", "format": "binary", "description": "JPEG, PNG, BMP or WebP file"},
        "persons": {
            "type": "string",
            "description": 'JSON list, e.g. [{"box": [10, 20, 200, 400]}]',
            "contentMediaType": "application/json",
            "contentSchema": _JSON_BODY_SCHEMA["properties"]["persons"],
        },
        "flip": {"type": "boolean", "default": True},
        "model": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
    },
}
_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            "application/json": {"schema": _JSON_BODY_SCHEMA},
        },
    }
}
_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 413, 415, 422, 503, 504)}


def _options(raw: dict[str, object], model: type[PoseOptions]) -> PoseOptions:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ServiceError(422, validation_message(error)) from error


def _multipart_options(fields: dict[str, str], persons: str, max_persons: int) -> PoseOptions:
    raw: dict[str, object] = dict(fields)
    raw["persons"] = parse_json(persons, "multipart field 'persons'", max_json_separators(max_persons))
    return _options(raw, PoseOptions)


async def _read_multipart(request: Request, settings: Settings) -> tuple[bytes, PoseOptions]:
    form = await request.form(max_files=1, max_fields=8)
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise ServiceError(422, "multipart field 'image' is missing or is not a file")
    persons = form.get("persons")
    if not isinstance(persons, str):
        raise ServiceError(422, "multipart field 'persons' (a JSON list of persons) is missing")
    fields = {key: value for key, value in form.items() if key not in ("image", "persons")}
    options = await run_in_threadpool(_multipart_options, fields, persons, settings.max_persons)
    return await image.read(), options


def _json_request(body: bytes, max_persons: int) -> tuple[bytes, PoseOptions]:
    raw = parse_json(body, "the request body", max_json_separators(max_persons))
    if not isinstance(raw, dict):
        raise ServiceError(422, "the JSON body must be an object with 'image_base64' and 'persons'")
    options = _options(raw, PoseJsonRequest)
    encoded = options.image_base64
    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    return decode_base64(encoded), options


async def _read_request(request: Request, settings: Settings) -> tuple[bytes, PoseOptions]:
    """The image bytes and options; parsing runs in the thread pool, in bounded steps (service.payload)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _read_multipart(request, settings)
    if media_type == "application/json":
        return await run_in_threadpool(_json_request, await request.body(), settings.max_persons)
    received = media_type or "no content type"
    raise ServiceError(415, f"send multipart/form-data or application/json, not {received}")


def _region(person: Person, width: int, height: int) -> PersonRegion:
    if person.box is not None:
        return region_from_box(person.box, width, height)
    assert person.center is not None and person.scale is not None  # guaranteed by Person's validator
    return region_from_center(person.center, person.scale, width, height)


def _crops(image: DecodedImage, regions: list[PersonRegion], entry: ModelVersion) -> np.ndarray:
    assert entry.metadata is not None
    size, pixel_scale = entry.metadata.input.height, entry.metadata.input.pixel_scale
    return np.stack([crop_person(image, region, size, pixel_scale) for region in regions])


async def _infer(
    entry: ModelVersion, groups: list[np.ndarray], deadline: float, settings: Settings
) -> list[BatchResult]:
    assert entry.batcher is not None
    try:
        async with asyncio.timeout_at(deadline):
            return await entry.batcher.submit(groups, deadline)
    except QueueFullError as error:
        raise ServiceError(503, str(error), {"Retry-After": str(settings.retry_after_s)}) from error
    except BatcherClosedError as error:
        raise ServiceError(503, str(error), {"Retry-After": str(settings.retry_after_s)}) from error
    except (TimeoutError, DeadlineExceededError) as error:
        raise ServiceError(
            504, f"the request did not finish within its deadline of {settings.request_deadline_ms:g} ms"
        ) from error
    except InferenceError as error:
        raise ServiceError(500, str(error)) from error


@router.post(
    "/v1/pose",
    response_model=PoseResponse,
    responses=_ERRORS,
    openapi_extra=_OPENAPI_BODY,
    summary="Estimate 16 MPII keypoints for each given person",
)
async def estimate_pose(
    request: Request,
    settings: SettingsDep,
    repository: RepositoryDep,
    metrics: MetricsDep,
) -> PoseResponse:
    """Multipart (`image` file, `persons` JSON, `flip`, `model`, `version`) or JSON (`image_base64`, ...)."""
    started = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + settings.request_deadline_ms / 1000
    image_bytes, options = await _read_request(request, settings)
    if len(options.persons) > settings.max_persons:
        count = len(options.persons)
        raise ServiceError(422, f"too many persons: {count}, the limit is {settings.max_persons}")
    entry = repository.resolve(options.model, options.version, settings.default_model)
    assert entry.metadata is not None and entry.codec is not None

    decode_started = time.perf_counter()
    image = await run_in_threadpool(decode_image, image_bytes, settings.max_image_pixels)
    height, width = image.height, image.width
    regions = [_region(person, width, height) for person in options.persons]
    crop_started = time.perf_counter()
    crops = await run_in_threadpool(_crops, image, regions, entry)
    groups = person_groups(crops, options.flip)

    queued = time.perf_counter()
    results = await _infer(entry, groups, deadline, settings)
    inferred = time.perf_counter()
    decoded = decode_persons([r.output for r in results], regions, entry.codec, options.flip)
    queue_wait = max(r.queue_wait_s for r in results)
    metrics.queue_wait.labels(model=entry.label).observe(queue_wait)

    names = entry.metadata.joint_names
    persons = [
        PersonPose(
            box=[float(v) for v in region.box],
            center=[float(v) for v in region.center],
            scale=float(region.scale),
            keypoints=[
                Keypoint(name=name, x=float(xy[0]), y=float(xy[1]), score=float(score))
                for name, xy, score in zip(names, decoded.image_xy[i], decoded.scores[i], strict=True)
            ],
        )
        for i, region in enumerate(regions)
    ]
    finished = time.perf_counter()
    timing = {
        "read_request": decode_started - started,
        "decode_image": crop_started - decode_started,
        "crop": queued - crop_started,
        "queue_wait": queue_wait,
        "inference": max(r.compute_s for r in results),
        "batch_and_inference": inferred - queued,
        "decode_keypoints": finished - inferred,
        "total": finished - started,
    }
    return PoseResponse(
        model=ModelRef(name=entry.name, version=entry.version, backend=entry.backend_name),
        image=ImageSize(width=width, height=height),
        persons=persons,
        timing_ms={key: round(value * 1000, 3) for key, value in timing.items()},
    )
