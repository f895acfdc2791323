"""Liveness, readiness and Prometheus metrics (no API key: probes and scrapers call these)."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from service.api.deps import LiveRepositoryDep, MetricsDep, RepositoryDep
from service.schemas import HealthResponse

router = APIRouter(tags=["operations"])


@router.get("/health/live", response_model=HealthResponse)
async def live() -> HealthResponse:
    """The process answers."""
    return HealthResponse(status="alive")


@router.get("/health/ready", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def ready(repository: RepositoryDep) -> Response:
    """Ready when at least one model version is loaded."""
    count = repository.ready_count
    body = HealthResponse(status="ready" if count else "not ready", models_ready=count)
    return JSONResponse(body.model_dump(), status_code=200 if count else 503)


@router.get("/metrics", response_class=Response)
async def metrics(metrics: MetricsDep, live: LiveRepositoryDep) -> Response:
    """Prometheus text format."""
    loaded = live.snapshot.loaded()
    metrics.observe_repository(live.health.readable, live.health.failed_scans)
    metrics.models_ready.set(len(loaded))
    metrics.keep_models({model.label for model in loaded})
    metrics.queued_crops.clear()  # versions released since the last scrape drop out
    for model in loaded:
        metrics.queued_crops.labels(model=model.label).set(model.batcher.queued_crops)
    return Response(metrics.render(), media_type=metrics.content_type)
