"""POST /v1/detect: an image in (multipart or JSON), the persons the detector finds out, without poses.

The demo page's "Find people" shows these boxes for the user to edit before estimating; a client that
tracks persons itself can use it as a detector service.
"""

from typing import Any

from fastapi import APIRouter, Depends, Request

from service.api.deps import RuntimeDep, SettingsDep, require_api_key
from service.api.pose import detection_options, model_ref
from service.api.request_bodies import image_request_body
from service.image_request import read_image_request
from service.schemas import (
    DetectedPerson,
    DetectionFields,
    DetectJsonRequest,
    DetectResponse,
    ErrorResponse,
    ImageSize,
)

router = APIRouter(tags=["pose"], dependencies=[Depends(require_api_key)])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 404, 408, 413, 415, 422, 503, 504)
}


@router.post(
    "/v1/detect",
    response_model=DetectResponse,
    responses=_RESPONSES,
    openapi_extra=image_request_body(DetectJsonRequest),
    summary="Find the persons in an image with the person detector (boxes and scores, no poses)",
)
async def detect_persons(request: Request, settings: SettingsDep, runtime: RuntimeDep) -> DetectResponse:
    """Multipart (`image` file, `detector`, `detect_*`) or JSON (`image_base64`, ...)."""
    deadline = runtime.deadline()
    body = await read_image_request(request, DetectionFields, settings.max_persons)
    detection = detection_options(body.options, runtime.options.detection)
    detector, found = await runtime.detect(body.image_bytes, deadline, detection)
    return DetectResponse(
        model=model_ref(detector),
        image=ImageSize(width=found.width, height=found.height),
        persons=[
            DetectedPerson(box=[float(v) for v in region.box], score=float(region.score or 0.0))
            for region in found.found.regions
        ],
        timing_ms={key: round(value * 1000, 3) for key, value in found.found.timing_s.items()},
    )
