"""Model control while serving: GET /v1/repository, POST /v1/repository/models/{name}/load and /unload.

Triton's model-repository API is the model. Loading waits until the model's versions are loaded (or
found unavailable) and swapped in; unloading returns once they stop taking requests, and they are
released when the requests holding them are done. When the repository folder cannot be listed, each answers
503 and changes nothing.
"""

from typing import Any

from fastapi import APIRouter, Depends

from runtime.repository.live import VersionState
from service.api.deps import LiveRepositoryDep, SettingsDep, require_api_key
from service.schemas import ErrorResponse, RepositoryIndex, RepositoryVersion
from service.settings import Settings

router = APIRouter(tags=["repository"], dependencies=[Depends(require_api_key)])

_ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (401, 404, 503)}


def _index(states: list[VersionState], settings: Settings) -> RepositoryIndex:
    return RepositoryIndex(
        poll_s=settings.repository_poll_s or None,
        versions=[
            RepositoryVersion(
                name=state.name,
                version=state.version,
                state=state.state,
                on_disk=state.on_disk,
                default=state.is_default,
                reason=state.reason,
                reload_error=state.reload_error,
            )
            for state in states
        ],
    )


@router.get("/v1/repository", response_model=RepositoryIndex, responses=_ERRORS)
async def repository_index(live: LiveRepositoryDep, settings: SettingsDep) -> RepositoryIndex:
    """Every version in the repository folder or in the service, with its state."""
    return _index(await live.index(), settings)


@router.post("/v1/repository/models/{name}/load", response_model=RepositoryIndex, responses=_ERRORS)
async def load_model(name: str, live: LiveRepositoryDep, settings: SettingsDep) -> RepositoryIndex:
    """Load new or changed versions of `name` from disk, retire removed ones; list its versions after."""
    return _index(await live.load_model(name), settings)


@router.post("/v1/repository/models/{name}/unload", response_model=RepositoryIndex, responses=_ERRORS)
async def unload_model(name: str, live: LiveRepositoryDep, settings: SettingsDep) -> RepositoryIndex:
    """Stop serving every version of `name` (poll mode leaves it unloaded until it is loaded again)."""
    return _index(await live.unload_model(name), settings)
