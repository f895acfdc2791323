"""Dependencies shared by the routes: app state and the optional bearer API key.

They are `async def` although they never wait: FastAPI runs a plain `def` dependency in the thread pool,
and five thread hops per request cost the event loop more than these getters themselves.
"""

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from runtime.engine import PoseRuntime
from runtime.repository.live import LiveRepository
from runtime.repository.snapshot import ModelRepository
from service.errors import ServiceError
from service.settings import Settings
from service.telemetry import ServiceMetrics

# For the pages the service serves (demo, /docs, /redoc): everything from this origin (inline scripts and
# styles as Swagger UI and ReDoc write them, blob: images, videos and workers, the demo's WebSocket, which
# 'self' covers); ReDoc's badge from its CDN is not fetched, so the pages work, and stay silent, on a host
# with no way out. No other site may frame them (clickjacking), and browsers take each answer as the type
# it states (nosniff).
LOCAL_ONLY_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'"
)
CSP_HEADERS = {"Content-Security-Policy": LOCAL_ONLY_CSP, "X-Content-Type-Options": "nosniff"}

_bearer = HTTPBearer(auto_error=False, description="the HGPOSE_API_KEY, when the service sets one")


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_runtime(request: Request) -> PoseRuntime:
    return request.app.state.runtime


async def get_live_repository(request: Request) -> LiveRepository:
    runtime: PoseRuntime = request.app.state.runtime
    return runtime.repository


async def get_repository(request: Request) -> ModelRepository:
    """The snapshot served now (runtime.repository.live swaps it as versions come and go)."""
    runtime: PoseRuntime = request.app.state.runtime
    return runtime.repository.snapshot


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
RuntimeDep = Annotated[PoseRuntime, Depends(get_runtime)]
RepositoryDep = Annotated[ModelRepository, Depends(get_repository)]
LiveRepositoryDep = Annotated[LiveRepository, Depends(get_live_repository)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]


async def require_api_key(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """401 unless the service has no key or the request carries `Authorization: Bearer <key>`."""
    if settings.api_key is None:
        return
    if credentials is None:
        raise ServiceError(
            401,
            "this service needs an API key: send 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), settings.api_key.encode()):
        raise ServiceError(401, "the API key is wrong", {"WWW-Authenticate": "Bearer"})
