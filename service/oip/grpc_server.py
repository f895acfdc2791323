"""The Open Inference Protocol over gRPC: `inference.GRPCInferenceService` of KServe's grpc_predict_v2.proto,
served by grpc.aio in the service's own process and event loop, on the app's PoseRuntime.

The REST edge's limits hold here too: the API key as metadata `authorization: Bearer KEY` (ServerLive and
ServerReady excepted, for probes), the body size limit as the largest message received, admission through
the same batcher queues, and the request deadline (or the call's own, when sooner). Runtime errors become
the status codes of service.oip.errors with the REST edge's messages. Outputs travel as raw contents, as
Triton's do; inputs may be raw or typed.
"""

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from runtime.engine import PoseRuntime
from runtime.errors import DeadlineExceededError, PoseRuntimeError
from service.errors import deadline_message
from service.logs import request_id_var
from service.middleware import REQUEST_ID_HEADER
from service.oip import SERVER_NAME
from service.oip import models as oip_models
from service.oip.calls import InferRequest, InferResult, RequestedOutput
from service.oip.errors import runtime_code
from service.oip.proto import SERVICE, SERVICE_NAME, message_class
from service.oip.tensors import TensorError, from_raw, from_values, to_raw
from service.settings import Settings

access_log = logging.getLogger("service.access")
logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
Handler = Callable[[Any, Context], Awaitable[Any]]
UNKEYED_METHODS = frozenset({"ServerLive", "ServerReady"})
EXTENSIONS = ["model_repository"]
# Which typed field of InferTensorContents holds each datatype (FP16 has none: raw contents only).
CONTENTS_FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _typed_values(tensor: Any) -> list[Any]:
    field = CONTENTS_FIELDS.get(tensor.datatype)
    if field is None:
        raise TensorError(f"input {tensor.name!r}: {tensor.datatype} travels as raw_input_contents only")
    return list(getattr(tensor.contents, field))


def read_infer_request(request: Any) -> InferRequest:
    """The call's inputs, from raw_input_contents (one per input, in order) or from each input's contents."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise TensorError(f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs")
    inputs = []
    for index, tensor in enumerate(request.inputs):
        shape = list(tensor.shape)
        if raw:
            if tensor.HasField("contents"):
                raise TensorError(f"input {tensor.name!r} has contents beside raw_input_contents")
            inputs.append(from_raw(tensor.name, tensor.datatype, shape, raw[index]))
        else:
            inputs.append(from_values(tensor.name, tensor.datatype, shape, _typed_values(tensor)))
    outputs = [RequestedOutput(output.name, binary=True) for output in request.outputs] or None
    return InferRequest(request.id, inputs, outputs, binary_outputs=True)


def write_infer_response(result: InferResult) -> Any:
    response = message_class("ModelInferResponse")(
        model_name=result.model_name, model_version=result.model_version, id=result.id
    )
    for tensor in result.outputs:
        response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        response.raw_output_contents.append(to_raw(tensor))
    return response


class OipGrpcServer:
    """The gRPC service on `settings.grpc_port`, sharing `runtime` with the REST edge."""

    def __init__(self, runtime: PoseRuntime, settings: Settings, server_version: str) -> None:
        self.runtime = runtime
        self.settings = settings
        self.server_version = server_version
        self.port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._methods: dict[str, Handler] = {
            "ServerLive": self._server_live,
            "ServerReady": self._server_ready,
            "ModelReady": self._model_ready,
            "ServerMetadata": self._server_metadata,
            "ModelMetadata": self._model_metadata,
            "ModelInfer": self._model_infer,
            "RepositoryModelLoad": self._repository_load,
            "RepositoryModelUnload": self._repository_unload,
        }

    async def start(self) -> int:
        """Bind and serve; the bound port (the settings' port). A taken port is an error, not shared."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self.settings.max_body_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        handlers = {}
        for method in SERVICE.methods:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                self._guarded(method.name, self._methods[method.name]),
                request_deserializer=message_class(method.input_type.name).FromString,
                response_serializer=message_class(method.output_type.name).SerializeToString,
            )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
        self.port = server.add_insecure_port(address(self.settings.host, self.settings.grpc_port))
        await server.start()
        self._server = server
        logger.info("gRPC (Open Inference Protocol) on %s", address(self.settings.host, self.port))
        return self.port

    async def stop(self, grace_s: float) -> None:
        """Take no new calls; the ones in flight get `grace_s` seconds to finish."""
        if self._server is not None:
            await self._server.stop(grace_s)

    # Every call: key, request id, errors, access log ----------------------------------------------------

    def _key_refusal(self, metadata: dict[str, Any]) -> str | None:
        """Why a call's metadata does not carry the API key, or None when it does (or none is needed)."""
        key = self.settings.api_key
        if key is None:
            return None
        sent = str(metadata.get("authorization", ""))
        if not sent:
            return "this service needs an API key: send metadata 'authorization: Bearer <key>'"
        scheme, _, credentials = sent.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(credentials.encode(), key.encode()):
            return "the API key is wrong"
        return None

    def _guarded(self, name: str, method: Handler) -> Handler:
        async def handle(request: Any, context: Context) -> Any:
            metadata = dict(context.invocation_metadata() or ())
            request_id = str(metadata.get(REQUEST_ID_HEADER, ""))[:128] or uuid.uuid4().hex
            token = request_id_var.set(request_id)
            context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
            started = time.perf_counter()
            code, message = grpc.StatusCode.OK, ""
            try:
                refusal = None if name in UNKEYED_METHODS else self._key_refusal(metadata)
                if refusal is not None:
                    code, message = grpc.StatusCode.UNAUTHENTICATED, refusal
                else:
                    try:
                        return await method(request, context)
                    except TensorError as error:
                        code, message = grpc.StatusCode.INVALID_ARGUMENT, str(error)
                    except PoseRuntimeError as error:
                        code, message = runtime_code(error), error.message
                        if isinstance(error, DeadlineExceededError):
                            message = deadline_message(self.settings.request_deadline_ms)
                    except Exception:
                        code = grpc.StatusCode.UNKNOWN  # grpc answers it so, and logs the exception
                        raise
            finally:
                elapsed = time.perf_counter() - started
                access_log.info(
                    "grpc %s %s",
                    name,
                    code.name,
                    extra={"status": code.name, "duration_ms": round(elapsed * 1000, 2), "route": name},
                )
                request_id_var.reset(token)
            await context.abort(code, message)

        return handle

    def _deadline(self, context: Context) -> float:
        """The request deadline on the loop's clock: the settings', or the call's own when sooner."""
        deadline = self.runtime.deadline()
        remaining = context.time_remaining()
        if remaining is not None:
            deadline = min(deadline, asyncio.get_running_loop().time() + remaining)
        return deadline

    # The methods ----------------------------------------------------------------------------------------

    async def _server_live(self, request: Any, context: Context) -> Any:
        return message_class("ServerLiveResponse")(live=True)

    async def _server_ready(self, request: Any, context: Context) -> Any:
        return message_class("ServerReadyResponse")(ready=self.runtime.repository.snapshot.ready_count > 0)

    async def _model_ready(self, request: Any, context: Context) -> Any:
        ready = oip_models.is_ready(self.runtime, request.name, request.version)
        return message_class("ModelReadyResponse")(ready=ready)

    async def _server_metadata(self, request: Any, context: Context) -> Any:
        return message_class("ServerMetadataResponse")(
            name=SERVER_NAME, version=self.server_version, extensions=EXTENSIONS
        )

    async def _model_metadata(self, request: Any, context: Context) -> Any:
        described = oip_models.describe(self.runtime, request.name, request.version)
        response = message_class("ModelMetadataResponse")(
            name=described.name, versions=described.versions, platform=described.platform
        )
        for specs, field in ((described.inputs, response.inputs), (described.outputs, response.outputs)):
            for spec in specs:
                field.add(name=spec.name, datatype=spec.datatype, shape=list(spec.shape))
        return response

    async def _model_infer(self, request: Any, context: Context) -> Any:
        deadline = self._deadline(context)
        # raw contents become arrays without a copy; typed ones are converted value by value, off the loop
        raw = len(request.raw_input_contents) > 0
        call = read_infer_request(request) if raw else await asyncio.to_thread(read_infer_request, request)
        result = await oip_models.infer(
            self.runtime, request.model_name, request.model_version, call, deadline
        )
        return write_infer_response(result)

    def _repository_name(self, name: str) -> str:
        if not name:
            raise TensorError(
                "model_name (field 1 of KServe's RepositoryModelLoadRequest) is empty; tritonclient's gRPC "
                "load_model and unload_model send Triton's message, whose field 2 names the model: use REST"
            )
        return oip_models.repository_name(name, self.runtime.repository.snapshot)

    async def _repository_load(self, request: Any, context: Context) -> Any:
        await self.runtime.repository.load_model(self._repository_name(request.model_name))
        return message_class("RepositoryModelLoadResponse")(model_name=request.model_name, isLoaded=True)

    async def _repository_unload(self, request: Any, context: Context) -> Any:
        await self.runtime.repository.unload_model(self._repository_name(request.model_name))
        return message_class("RepositoryModelUnloadResponse")(model_name=request.model_name, isUnloaded=True)
