"""The REST bodies of the Open Inference Protocol as pydantic models: the answers the routes write and the
OpenAPI document (the infer request is read by service.oip.rest, so its model here only documents it)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.oip.tensors import DATATYPES

Datatype = Literal[DATATYPES]  # type: ignore[valid-type]


class OipError(BaseModel):
    error: str


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Liveness(BaseModel):
    live: bool


class Readiness(BaseModel):
    ready: bool


class ModelReadiness(BaseModel):
    name: str
    ready: bool


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 where the size varies")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str] = Field(description="the ready versions, newest first")
    platform: str = Field(description="the backend that runs the version described")
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, str] = Field(
        description="version, precision, backend and backend_reason of the version described; "
        "default_reason when no version was named"
    )


class RequestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data_size: the tensor's bytes follow the JSON header"
    )
    data: list[Any] | None = Field(default=None, description="row-major values, flat or nested")


class RequestOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    parameters: dict[str, Any] | None = Field(default=None, description="binary_data: true for raw bytes")


class InferenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data_output: every output as raw bytes"
    )
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]


class RepositoryIndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ready: bool | None = Field(default=None, description="true: only versions that are ready")


class RepositoryModel(BaseModel):
    name: str
    version: str
    state: Literal["READY", "UNAVAILABLE", "LOADING", "UNLOADING"]
    reason: str = ""


class RepositoryLoadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] | None = Field(default=None, description="accepted and ignored")


class ModelLoaded(BaseModel):
    name: str
    load: bool


class ModelUnloaded(BaseModel):
    name: str
    unload: bool
