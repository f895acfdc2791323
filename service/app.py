"""The FastAPI application factory: settings in, app out; the lifespan loads and releases the models."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api import demo, docs, health, models, pose, repository
from service.backends import resolve_backend
from service.errors import ServiceError
from service.live_repository import LiveRepository
from service.logs import request_id_var
from service.middleware import BodyLimitMiddleware, RequestContextMiddleware
from service.model_version import BackendFactory
from service.settings import Settings
from service.telemetry import ServiceMetrics
from service.validation import validation_message

logger = logging.getLogger(__name__)


def _error(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"detail": message, "request_id": request_id_var.get()}, status_code=status_code, headers=headers
    )


def create_app(settings: Settings | None = None, backend_factory: BackendFactory | None = None) -> FastAPI:
    """A ready-to-serve app; models load in the lifespan (startup), off the event loop."""
    settings = settings or Settings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = resolve_backend(settings)
        extra = {} if backend_factory is None else {"backend_factory": backend_factory}
        live = LiveRepository(settings, backend, observer_factory=metrics.batch_observer, **extra)
        await run_in_threadpool(live.load_all)
        live.start()
        app.state.live_repository = live
        logger.info(
            "serving %d ready model version(s) from %s with %s%s",
            live.snapshot.ready_count,
            settings.model_repo,
            backend,
            f", polling every {settings.repository_poll_s:g} s" if settings.repository_poll_s else "",
        )
        try:
            yield
        finally:
            await live.close()
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
    app.state.decode_slots = asyncio.Semaphore(settings.max_concurrent_decodes)
    app.state.metrics = metrics
    # Until the lifespan has loaded the models: an empty repository (not ready).
    app.state.live_repository = LiveRepository(settings, settings.backend)
    app.include_router(pose.router)
    app.include_router(models.router)
    app.include_router(repository.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(demo.router)
    app.mount(docs.DOCS_ASSETS_PATH, StaticFiles(directory=docs.DOCS_ASSETS_DIR), name="docs-assets")
    app.mount(demo.DEMO_ASSETS_PATH, StaticFiles(directory=demo.DEMO_ASSETS_DIR), name="demo-assets")
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, error: ServiceError) -> JSONResponse:
        if error.status_code >= 500:
            logger.warning("request failed: %s", error.message, extra={"status": error.status_code})
        return _error(error.status_code, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return _error(422, validation_message(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), getattr(error, "headers", None))

    return app
