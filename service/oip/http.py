"""The Open Inference Protocol over REST, under /v2: server and model metadata, health, infer (JSON and the
binary tensor extension) and the model-repository extension, on the app's PoseRuntime.

The API key applies as on /v1 (health excepted, for probes), and so do the body limit, admission and the
request deadline: the app's middleware and the runtime see these requests as any other. Errors are
`{"error": "..."}` with /v1's HTTP statuses (service.errors).
"""

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from runtime.engine import PoseRuntime
from runtime.repository.live import VersionState
from runtime.repository.version import LOADING, READY, UNLOADING
from service.api.deps import LiveRepositoryDep, RuntimeDep, require_api_key
from service.api.request_bodies import inline_definitions
from service.errors import ServiceError
from service.oip import OIP_PATH_PREFIX, SERVER_NAME
from service.oip import models as oip_models
from service.oip.errors import TENSOR_ERROR_STATUS
from service.oip.rest import (
    BINARY_MEDIA_TYPE,
    INFERENCE_HEADER,
    JSON_MEDIA_TYPE,
    read_infer_request,
    write_infer_result,
)
from service.oip.schemas import (
    InferenceRequest,
    InferenceResponse,
    Liveness,
    ModelLoaded,
    ModelMetadata,
    ModelReadiness,
    ModelUnloaded,
    OipError,
    Readiness,
    RepositoryIndexRequest,
    RepositoryLoadRequest,
    RepositoryModel,
    ServerMetadata,
    TensorMetadata,
)
from service.oip.tensors import TensorError
from service.payload import on_loop_if_small, parse_json
from service.validation import validation_message

EXTENSIONS = ["binary_tensor_data", "model_repository"]
_STATES = {READY: "READY", LOADING: "LOADING", UNLOADING: "UNLOADING"}  # any other: UNAVAILABLE
# A repository call's body holds a flag or a few parameters.
MAX_REPOSITORY_SEPARATORS = 64

router = APIRouter(prefix=OIP_PATH_PREFIX, tags=["open inference protocol"])
_keyed = [Depends(require_api_key)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": OipError} for status in (401, 413, *statuses)}


_INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON_MEDIA_TYPE: {"schema": inline_definitions(InferenceRequest.model_json_schema())},
            BINARY_MEDIA_TYPE: {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "the JSON request (its length in Inference-Header-Content-Length), then "
                    "the inputs' raw bytes in input order",
                }
            },
        },
    }
}
_INFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": InferenceResponse,
        "content": {BINARY_MEDIA_TYPE: {}},
        "description": "the outputs; with binary outputs, the JSON (its length in the response's "
        "Inference-Header-Content-Length) followed by their raw bytes",
    },
    **_errors(400, 404, 408, 415, 422, 503, 504),
}
HeaderLength = Annotated[
    str | None,
    Header(
        alias="Inference-Header-Content-Length",
        description="binary tensor extension: the length of the JSON request at the start of the body",
    ),
]


@router.get("", response_model=ServerMetadata, responses=_errors(), dependencies=_keyed)
async def metadata(request: Request) -> ServerMetadata:
    """The server's name, version and the protocol extensions it speaks."""
    return ServerMetadata(name=SERVER_NAME, version=request.app.version, extensions=EXTENSIONS)


@router.get("/health/live", response_model=Liveness)
async def live() -> Liveness:
    """The process answers (no API key: probes call it)."""
    return Liveness(live=True)


@router.get("/health/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(runtime: RuntimeDep) -> Response:
    """Ready when at least one model version is loaded (no API key: probes call it)."""
    count = runtime.repository.snapshot.ready_count
    return JSONResponse(Readiness(ready=bool(count)).model_dump(), status_code=200 if count else 503)


def _model_metadata(runtime: PoseRuntime, name: str, version: str) -> ModelMetadata:
    described = oip_models.describe(runtime, name, version)
    return ModelMetadata(
        name=described.name,
        versions=described.versions,
        platform=described.platform,
        inputs=[
            TensorMetadata(name=t.name, datatype=t.datatype, shape=list(t.shape)) for t in described.inputs
        ],
        outputs=[
            TensorMetadata(name=t.name, datatype=t.datatype, shape=list(t.shape)) for t in described.outputs
        ],
        parameters=described.parameters,
    )


@router.get("/models/{name}", response_model=ModelMetadata, responses=_errors(404, 503), dependencies=_keyed)
async def model_metadata(name: str, runtime: RuntimeDep) -> ModelMetadata:
    """The model's inputs and outputs at its default version, and which version, backend and why."""
    return _model_metadata(runtime, name, "")


@router.get(
    "/models/{name}/versions/{version}",
    response_model=ModelMetadata,
    responses=_errors(404, 503),
    dependencies=_keyed,
)
async def model_version_metadata(name: str, version: str, runtime: RuntimeDep) -> ModelMetadata:
    """The model's inputs and outputs at one version."""
    return _model_metadata(runtime, name, version)


@router.get(
    "/models/{name}/ready", response_model=ModelReadiness, responses=_errors(404, 503), dependencies=_keyed
)
async def model_ready(name: str, runtime: RuntimeDep) -> Response:
    """200 when the model's default version serves, 503 when it cannot now, 404 for an unknown model."""
    return _readiness(runtime, name, "")


@router.get(
    "/models/{name}/versions/{version}/ready",
    response_model=ModelReadiness,
    responses=_errors(404, 503),
    dependencies=_keyed,
)
async def model_version_ready(name: str, version: str, runtime: RuntimeDep) -> Response:
    """200 when that version serves, 503 when it cannot now, 404 for an unknown model or version."""
    return _readiness(runtime, name, version)


def _readiness(runtime: PoseRuntime, name: str, version: str) -> Response:
    is_ready = oip_models.is_ready(runtime, name, version)
    body = ModelReadiness(name=name, ready=is_ready).model_dump()
    return JSONResponse(body, status_code=200 if is_ready else 503)


def _json_bytes(body: bytes, header_length: str | None) -> int:
    """How much of the body is JSON: all of it, or the binary tensor extension's header."""
    if header_length is not None and header_length.isdigit():
        return min(int(header_length), len(body))
    return len(body)


async def _infer(
    request: Request, runtime: PoseRuntime, name: str, version: str, header_length: str | None
) -> Response:
    deadline = runtime.deadline()
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise ServiceError(415, f"Content-Encoding {encoding!r} is not taken: send the body uncompressed")
    body = await request.body()
    try:
        # Images in JSON's base64 and the bare network's heatmaps are parsed and written in the thread pool.
        json_size = _json_bytes(body, header_length)
        call = await on_loop_if_small(json_size, read_infer_request, body, header_length)
        result = await oip_models.infer(runtime, name, version, call, deadline)
        outputs_size = sum(tensor.data.nbytes for tensor in result.outputs)
        content, json_length = await on_loop_if_small(outputs_size, write_infer_result, result, call)
    except TensorError as error:
        raise ServiceError(TENSOR_ERROR_STATUS, str(error)) from error
    if json_length is None:
        return Response(content, media_type=JSON_MEDIA_TYPE)
    return Response(content, media_type=BINARY_MEDIA_TYPE, headers={INFERENCE_HEADER: str(json_length)})


@router.post(
    "/models/{name}/infer",
    response_model=InferenceResponse,
    responses=_INFER_RESPONSES,
    openapi_extra=_INFER_BODY,
    dependencies=_keyed,
)
async def infer(
    request: Request, name: str, runtime: RuntimeDep, header_length: HeaderLength = None
) -> Response:
    """Run the model's default version: JSON tensors, or the binary tensor extension."""
    return await _infer(request, runtime, name, "", header_length)


@router.post(
    "/models/{name}/versions/{version}/infer",
    response_model=InferenceResponse,
    responses=_INFER_RESPONSES,
    openapi_extra=_INFER_BODY,
    dependencies=_keyed,
)
async def infer_version(
    request: Request, name: str, version: str, runtime: RuntimeDep, header_length: HeaderLength = None
) -> Response:
    """Run one version of the model: JSON tensors, or the binary tensor extension."""
    return await _infer(request, runtime, name, version, header_length)


def _index_entry(state: VersionState) -> RepositoryModel:
    return RepositoryModel(
        name=state.name,
        version=str(state.version),
        state=_STATES.get(state.state, "UNAVAILABLE"),
        reason=state.reason or "",
    )


ModelT = TypeVar("ModelT", bound=BaseModel)


async def _optional_body(request: Request, model: type[ModelT]) -> ModelT:
    """A repository call's JSON body, which clients may leave empty (and send with no content type)."""
    body = await request.body()
    if not body.strip():
        return model()
    try:
        parsed = parse_json(
            body, "the request body", MAX_REPOSITORY_SEPARATORS, "a repository call needs at most"
        )
        return model.model_validate(parsed)
    except ValidationError as error:
        raise ServiceError(422, validation_message(error)) from error


def _optional_body_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = inline_definitions(model.model_json_schema())
    return {"requestBody": {"required": False, "content": {JSON_MEDIA_TYPE: {"schema": schema}}}}


@router.post(
    "/repository/index",
    response_model=list[RepositoryModel],
    responses=_errors(400, 422),
    openapi_extra=_optional_body_schema(RepositoryIndexRequest),
    dependencies=_keyed,
)
async def repository_index(request: Request, live: LiveRepositoryDep) -> list[RepositoryModel]:
    """Every version in the repository folder or served, with its state (`ready: true`: ready ones only)."""
    only_ready = (await _optional_body(request, RepositoryIndexRequest)).ready
    states = await live.index()
    return [_index_entry(s) for s in states if not only_ready or s.state == READY]


@router.post(
    "/repository/models/{name}/load",
    response_model=ModelLoaded,
    responses=_errors(400, 404, 422),
    openapi_extra=_optional_body_schema(RepositoryLoadRequest),
    dependencies=_keyed,
)
async def load_model(name: str, request: Request, live: LiveRepositoryDep) -> ModelLoaded:
    """Load new or changed versions of the model from disk and retire removed ones (as
    /v1/repository/models/{name}/load; NAME-net names the same repository model)."""
    await _optional_body(request, RepositoryLoadRequest)
    await live.load_model(oip_models.repository_name(name, live.snapshot))
    return ModelLoaded(name=name, load=True)


@router.post(
    "/repository/models/{name}/unload",
    response_model=ModelUnloaded,
    responses=_errors(400, 404, 422),
    openapi_extra=_optional_body_schema(RepositoryLoadRequest),
    dependencies=_keyed,
)
async def unload_model(name: str, request: Request, live: LiveRepositoryDep) -> ModelUnloaded:
    """Stop serving every version of the model (as /v1/repository/models/{name}/unload)."""
    await _optional_body(request, RepositoryLoadRequest)
    await live.unload_model(oip_models.repository_name(name, live.snapshot))
    return ModelUnloaded(name=name, unload=True)
