"""POST /v1/pose: an image and person regions in (multipart or JSON), 16 keypoints per person out."""

import time
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response

from runtime.options import DetectionOptions
from runtime.pipeline.pose import PoseEstimate
from runtime.pipeline.regions import PersonSpec
from runtime.repository.version import ServedVersion
from service.api.deps import MetricsDep, RuntimeDep, SettingsDep, require_api_key
from service.api.request_bodies import image_request_body
from service.image_request import read_image_request
from service.schemas import (
    DetectionFields,
    ErrorResponse,
    ImageSize,
    Keypoint,
    ModelRef,
    PersonPose,
    PoseJsonRequest,
    PoseOptions,
    PoseResponse,
)

PNG_MEDIA_TYPE = "image/png"
# A render=png answer's scale: its pixels per pixel of the upright image (1 unless the image was larger than
# render_max_side).
RENDER_SCALE_HEADER = "X-Render-Scale"
NumberT = TypeVar("NumberT", int, float)

router = APIRouter(tags=["pose"], dependencies=[Depends(require_api_key)])


_OPENAPI_BODY = image_request_body(PoseJsonRequest)
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


def person_specs(options: PoseOptions) -> list[PersonSpec] | None:
    """The persons the request gives, or None: the detector is to find them."""
    if options.persons is None:
        return None
    return [PersonSpec(box=p.box, center=p.center, scale=p.scale) for p in options.persons]


def detection_options(options: DetectionFields, defaults: DetectionOptions) -> DetectionOptions:
    """The service's detection options with what the request sets on top."""
    return DetectionOptions(
        model=options.detector or defaults.model,
        version=options.detector_version or defaults.version,
        score_threshold=_given(options.detect_score_threshold, defaults.score_threshold),
        iou_threshold=defaults.iou_threshold,
        max_persons=_given(options.detect_max_persons, defaults.max_persons),
        min_size=_given(options.detect_min_size, defaults.min_size),
    )


def _given(value: NumberT | None, default: NumberT) -> NumberT:
    return default if value is None else value


def model_ref(model: ServedVersion) -> ModelRef:
    return ModelRef(
        name=model.name,
        version=model.version,
        backend=model.key.backend_name,
        precision=model.metadata.precision,
    )


def response_body(found: PoseEstimate, timing_s: dict[str, float]) -> PoseResponse:
    names = found.model.metadata.joint_names
    keypoints = found.keypoints
    persons = [
        PersonPose(
            box=[float(v) for v in region.box],
            center=[float(v) for v in region.center],
            scale=float(region.scale),
            score=region.score,
            keypoints=[
                Keypoint(name=name, x=float(xy[0]), y=float(xy[1]), score=float(score))
                for name, xy, score in zip(names, keypoints.image_xy[i], keypoints.scores[i], strict=True)
            ],
        )
        for i, region in enumerate(found.regions)
    ]
    return PoseResponse(
        model=model_ref(found.model),
        image=ImageSize(width=found.width, height=found.height),
        persons=persons,
        timing_ms={key: round(value * 1000, 3) for key, value in timing_s.items()},
    )


@router.post(
    "/v1/pose",
    response_model=PoseResponse,
    responses=_RESPONSES,
    openapi_extra=_OPENAPI_BODY,
    summary="Estimate 16 MPII keypoints for each given person, or for each person the detector finds",
)
async def estimate_pose(
    request: Request,
    settings: SettingsDep,
    runtime: RuntimeDep,
    metrics: MetricsDep,
    render: RenderQuery = None,
) -> PoseResponse | Response:
    """Multipart (`image` file, `persons` JSON, `flip`, `model`, `version`, `detect_*`...) or JSON
    (`image_base64`, ...). Without `persons` the person detector finds them.

    With `render=png` (or `Accept: image/png`) the answer is the image with the skeletons drawn.
    """
    started = time.perf_counter()
    deadline = runtime.deadline()
    png = wants_png(render, request.headers.get("accept", ""))
    pose_request = await read_image_request(request, PoseOptions, settings.max_persons)
    options = pose_request.options
    detection = detection_options(options, runtime.options.detection)
    persons = person_specs(options)
    with runtime.lease(options.model, options.version) as model:
        read = time.perf_counter()
        arguments = (model, pose_request.image_bytes, persons, options.flip, deadline, detection)
        if png:
            found, rendered = await runtime.estimate_and_render(*arguments)
        else:
            found = await runtime.estimate(*arguments)
    metrics.observe_queue_wait(model.label, found.timing_s["queue_wait"])
    if png:
        scale = {RENDER_SCALE_HEADER: f"{rendered.scale:.6g}"}
        return Response(rendered.png, media_type=PNG_MEDIA_TYPE, headers=scale)
    timing = {"read_request": read - started, **found.timing_s, "total": time.perf_counter() - started}
    return response_body(found, timing)
