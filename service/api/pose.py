"""POST /v1/pose: an image and person regions in (multipart or JSON), 16 keypoints per person out."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from service import pipeline
from service.api.deps import DecodeSlotsDep, LiveRepositoryDep, MetricsDep, SettingsDep, require_api_key
from service.batching import (
    BatcherClosedError,
    BatcherError,
    DeadlineExceededError,
    GroupTooLargeError,
    InferenceError,
    QueueFullError,
)
from service.errors import ServiceError
from service.rendering import PNG_MEDIA_TYPE, render_png, wants_png
from service.schemas import ErrorResponse, PoseJsonRequest, PoseResponse
from service.settings import Settings

router = APIRouter(tags=["pose"], dependencies=[Depends(require_api_key)])


def _inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` written in place of each `$ref`.

    The schema sits in `openapi_extra`, which FastAPI does not add to the document's components, so a
    `$ref` there would point at nothing (ReDoc refuses to render such a document).
    """
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


_JSON_BODY_SCHEMA = _inline_definitions(PoseJsonRequest.model_json_schema())
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
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {PNG_MEDIA_TYPE: {}},
        "description": "the keypoints, or with render=png the drawn image",
    },
    **{status: {"model": ErrorResponse} for status in (400, 401, 404, 408, 413, 415, 422, 503, 504)},
}
RenderQuery = Annotated[
    Literal["png"] | None,
    Query(description="'png': answer with the image and the skeletons drawn on it instead of JSON"),
]

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
    responses=_RESPONSES,
    openapi_extra=_OPENAPI_BODY,
    summary="Estimate 16 MPII keypoints for each given person",
)
async def estimate_pose(
    request: Request,
    settings: SettingsDep,
    repository: LiveRepositoryDep,
    metrics: MetricsDep,
    decode_slots: DecodeSlotsDep,
    render: RenderQuery = None,
) -> PoseResponse | Response:
    """Multipart (`image` file, `persons` JSON, `flip`, `model`, `version`) or JSON (`image_base64`, ...).

    With `render=png` (or `Accept: image/png`) the answer is the image with the skeletons drawn.
    """
    png = wants_png(render, request.headers.get("accept", ""))
    try:
        found, body = await pipeline.run(request, settings, repository, metrics, decode_slots, keep_image=png)
    except BatcherError as error:
        raise http_error(error, settings) from error
    if png:
        return Response(await run_in_threadpool(render_png, found), media_type=PNG_MEDIA_TYPE)
    return body
