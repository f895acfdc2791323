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
from runtime.repository.version import BackendFactory
from service.api import demo, detect, docs, health, models, pose, repository
from service.errors import ServiceError, error_body, runtime_status
from service.logs import request_id_var
from service.middleware import BodyLimitMiddleware, HeadAsGetMiddleware, RequestContextMiddleware
from service.settings import Settings
from service.telemetry import ServiceMetrics
from service.validation import validation_message

logger = logging.getLogger(__name__)


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        error_body(message, request_id_var.get()),
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
        live = runtime.repository
        logger.info(
            "serving %d ready model version(s) from %s with %s%s",
            live.snapshot.ready_count,
            settings.model_repo,
            runtime.backend_name,
            f", polling every {settings.repository_poll_s:g} s" if settings.repository_poll_s else "",
        )
        try:
            yield
        finally:
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
    app.include_router(models.router)
    app.include_router(repository.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(demo.router)
    app.mount(docs.DOCS_ASSETS_PATH, StaticFiles(directory=docs.DOCS_ASSETS_DIR), name="docs-assets")
    app.mount(demo.DEMO_ASSETS_PATH, StaticFiles(directory=demo.DEMO_ASSETS_DIR), name="demo-assets")
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, error: ServiceError) -> Response:
        return error_response(error.status_code, error.message, error.headers)

    @app.exception_handler(PoseRuntimeError)
    async def runtime_error(_: Request, error: PoseRuntimeError) -> Response:
        status = runtime_status(error)
        if status >= 500:
            logger.warning("request failed: %s", error.message, extra={"status": status})
        if isinstance(error, DeadlineExceededError):
            limit = f"{settings.request_deadline_ms:g} ms"
            return error_response(status, f"the request did not finish within its deadline of {limit}")
        retry = {"Retry-After": str(settings.retry_after_s)} if status == 503 else None
        return error_response(status, error.message, retry)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> Response:
        return error_response(422, validation_message(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> Response:
        return error_response(error.status_code, str(error.detail), getattr(error, "headers", None))

    return app
