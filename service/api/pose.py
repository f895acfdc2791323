"""POST /v1/pose: an image and person regions in (multipart or JSON), 16 keypoints per person out."""

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from runtime.pipeline.pose import PoseEstimate
from runtime.pipeline.regions import PersonSpec
from service.api.deps import MetricsDep, RuntimeDep, SettingsDep, require_api_key
from service.pose_request import read_pose_request
from service.schemas import (
    ErrorResponse,
    ImageSize,
    Keypoint,
    ModelRef,
    Person,
    PersonPose,
    PoseJsonRequest,
    PoseResponse,
)

PNG_MEDIA_TYPE = "image/png"
# A render=png answer's scale: its pixels per pixel of the upright image (1 unless the image was larger than
# render_max_side).
RENDER_SCALE_HEADER = "X-Render-Scale"

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


def wants_png(render: str | None, accept: str) -> bool:
    """`?render=png`, or an Accept header that names image/png and not application/json."""
    if render == "png":
        return True
    media_types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return PNG_MEDIA_TYPE in media_types and "application/json" not in media_types


def person_spec(person: Person) -> PersonSpec:
    return PersonSpec(box=person.box, center=person.center, scale=person.scale)


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
    runtime: RuntimeDep,
    metrics: MetricsDep,
    render: RenderQuery = None,
) -> PoseResponse | Response:
    """Multipart (`image` file, `persons` JSON, `flip`, `model`, `version`) or JSON (`image_base64`, ...).

    With `render=png` (or `Accept: image/png`) the answer is the image with the skeletons drawn.
    """
    started = time.perf_counter()
    deadline = runtime.deadline()
    png = wants_png(render, request.headers.get("accept", ""))
    pose_request = await read_pose_request(request, settings.max_persons)
    options = pose_request.options
    persons = [person_spec(person) for person in options.persons]
    with runtime.lease(options.model, options.version) as model:
        read = time.perf_counter()
        if png:
            found, rendered = await runtime.estimate_and_render(
                model, pose_request.image_bytes, persons, options.flip, deadline
            )
        else:
            found = await runtime.estimate(model, pose_request.image_bytes, persons, options.flip, deadline)
    metrics.observe_queue_wait(model.label, found.timing_s["queue_wait"])
    if png:
        scale = {RENDER_SCALE_HEADER: f"{rendered.scale:.6g}"}
        return Response(rendered.png, media_type=PNG_MEDIA_TYPE, headers=scale)
    timing = {"read_request": read - started, **found.timing_s, "total": time.perf_counter() - started}
    return response_body(found, timing)
