"""The FastAPI application factory: settings in, app out; the lifespan starts and closes the runtime."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from runtime.backends import create_backend
from runtime.engine import PoseRuntime
from runtime.errors import DeadlineExceededError, PoseRuntimeError
from runtime.options import AUTO_BACKEND
from runtime.repository.version import BackendFactory
from service.api import demo, detect, docs, health, models, pose, repository, stream, video
from service.errors import ServiceError, deadline_message, error_body, runtime_status
from service.logs import request_id_var
from service.middleware import BodyLimit, BodyLimitMiddleware, HeadAsGetMiddleware, RequestContextMiddleware
from service.oip import http as oip_http
from service.oip.grpc_server import OipGrpcServer
from service.settings import Settings
from service.telemetry import ServiceMetrics
from service.validation import validation_message

logger = logging.getLogger(__name__)


def error_response(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        error_body(message, request_id_var.get(), request.url.path),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def create_app(settings: Settings | None = None, backend_factory: BackendFactory | None = None) -> FastAPI:
    """A ready-to-serve app; models load in the lifespan (startup), off the event loop."""
    settings = settings or Settings()
    metrics = ServiceMetrics()
    runtime = PoseRuntime(
        settings.runtime_options(), backend_factory or create_backend, metrics.batch_observer
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        grpc_server = OipGrpcServer(runtime, settings, app.version) if settings.grpc_port else None
        if grpc_server is not None:
            try:
                await grpc_server.start()
            except Exception:
                await runtime.close()
                raise
        live = runtime.repository
        logger.info(
            "serving %d ready model version(s) from %s, backend %s%s",
            live.snapshot.ready_count,
            settings.model_repo,
            "chosen per version"
            if settings.backend == AUTO_BACKEND
            else f"{settings.backend} for every version",
            f", polling every {settings.repository_poll_s:g} s" if settings.repository_poll_s else "",
        )
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(settings.graceful_shutdown_s)
            await runtime.close()
            logger.info("shut down")

    app = FastAPI(
        title="hourglass-pose",
        summary="Human pose (16 MPII keypoints) with a 2-stack Stacked Hourglass network",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by service.api.docs from local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.runtime = runtime
    app.include_router(pose.router)
    app.include_router(detect.router)
    app.include_router(video.router)
    app.include_router(stream.router)
    app.include_router(models.router)
    app.include_router(repository.router)
    app.include_router(health.router)
    app.include_router(oip_http.router)
    app.include_router(docs.router)
    app.include_router(demo.router)
    app.mount(docs.DOCS_ASSETS_PATH, StaticFiles(directory=docs.DOCS_ASSETS_DIR), name="docs-assets")
    app.mount(demo.DEMO_ASSETS_PATH, StaticFiles(directory=demo.DEMO_ASSETS_DIR), name="demo-assets")
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        path_limits={video.VIDEO_PATH: BodyLimit(settings.video_max_bytes, settings.video_body_timeout_s)},
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> Response:
        return error_response(request, error.status_code, error.message, error.headers)

    @app.exception_handler(PoseRuntimeError)
    async def runtime_error(request: Request, error: PoseRuntimeError) -> Response:
        status = runtime_status(error)
        if status >= 500:
            logger.warning("request failed: %s", error.message, extra={"status": status})
        if isinstance(error, DeadlineExceededError):
            return error_response(request, status, deadline_message(settings.request_deadline_ms))
        retry = {"Retry-After": str(settings.retry_after_s)} if status == 503 else None
        return error_response(request, status, error.message, retry)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        return error_response(request, 422, validation_message(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return error_response(request, error.status_code, str(error.detail), getattr(error, "headers", None))

    return app
