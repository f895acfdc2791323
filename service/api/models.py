"""GET /v1/models: every model and version with its status, backend and sizes."""

from fastapi import APIRouter, Depends

from core.model_repo import ModelMetadata
from runtime.backends import backend_spec
from runtime.repository.version import Loaded, ModelVersion
from service.api.deps import LiveRepositoryDep, require_api_key
from service.schemas import ModelInfo, ModelsResponse, VersionInfo

router = APIRouter(tags=["models"], dependencies=[Depends(require_api_key)])


def _version_info(entry: ModelVersion, reload_error: str | None) -> VersionInfo:
    metadata = entry.metadata
    return VersionInfo(
        version=entry.version,
        status=entry.status,
        reason=getattr(entry, "reason", None),
        reload_error=reload_error,
        backend=entry.key.backend_name,
        backend_reason=entry.key.backend.reason,
        precision=metadata.precision if metadata else None,
        source_version=metadata.source_version if metadata else None,
        model_file=backend_spec(entry.key.backend_name).model_file(entry.key.path),
        devices=list(entry.backend.devices) if isinstance(entry, Loaded) else None,
        input_size=[metadata.input.height, metadata.input.width] if metadata else None,
        heatmap_size=[metadata.output.heatmap_height, metadata.output.heatmap_width]
        if isinstance(metadata, ModelMetadata)
        else None,
        exported_at=metadata.exported_at if metadata else None,
    )


@router.get("/v1/models", response_model=ModelsResponse)
async def list_models(live: LiveRepositoryDep) -> ModelsResponse:
    """Newest version first; `default_version` is what a request without `version` gets."""
    repository = live.snapshot
    models = []
    for name, versions in sorted(repository.models.items()):
        default = repository.default_choice(name)
        models.append(
            ModelInfo(
                name=name,
                kind=repository.kind_of(name),
                default_version=default.model.version if default else None,
                default_reason=default.reason if default else None,
                versions=[
                    _version_info(versions[v], live.reload_error(name, v))
                    for v in sorted(versions, reverse=True)
                ],
            )
        )
    return ModelsResponse(models=models)
