"""POST /v1/pose: an image and person regions in (multipart or JSON), 16 keypoints per person out."""

from typing import Any

from fastapi import APIRouter, Depends, Request

from service import pipeline
from service.api.deps import MetricsDep, RepositoryDep, SettingsDep, require_api_key
from service.batching import (
    BatcherClosedError,
    BatcherError,
    DeadlineExceededError,
    GroupTooLargeError,
    InferenceError,
    QueueFullError,
)
from service.errors import ServiceError
from service.schemas import ErrorResponse, PoseJsonRequest, PoseResponse, inline_json_schema
from service.settings import Settings

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
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 404, 408, 413, 415, 422, 503, 504)
}

_BATCHER_STATUS: dict[type[BatcherError], int] = {
    QueueFullError: 503,
    BatcherClosedError: 503,
    DeadlineExceededError: 504,
    InferenceError: 500,
    GroupTooLargeError: 422,
}


def http_error(error: BatcherError, settings: Settings) -> ServiceError:
    """The one place a batcher failure becomes an HTTP status: 503 asks the client to retry later."""
    status = _BATCHER_STATUS[type(error)]
    if status == 503:
        return ServiceError(status, str(error), {"Retry-After": str(settings.retry_after_s)})
    if status == 504:
        return ServiceError(
            status, f"the request did not finish within its deadline of {settings.request_deadline_ms:g} ms"
        )
    return ServiceError(status, str(error))


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
    try:
        return await pipeline.run(request, settings, repository, metrics)
    except BatcherError as error:
        raise http_error(error, settings) from error
