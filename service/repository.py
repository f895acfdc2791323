"""The model repository as served: every version of every model, loaded or listed with why it is not.

Layout model_repo/<name>/<version>/ as the training export writes it (core.model_repo). A version whose
metadata is malformed, whose model file is missing or fails its checksum, or whose backend cannot load or
run it, is kept in the listing as "unavailable" with the reason; the other versions serve. A model's
default is its newest ready version.
"""

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.codec import HeatmapCodec
from core.model_repo import ModelMetadata, ModelRepositoryError, list_versions, read_metadata, verify_file
from service.backends import Backend, create_backend, model_file
from service.batching import BatchObserver, DynamicBatcher
from service.errors import ServiceError
from service.settings import Settings

logger = logging.getLogger(__name__)

READY = "ready"
UNAVAILABLE = "unavailable"

BackendFactory = Callable[[str, Path, Settings], Backend]
ObserverFactory = Callable[[str], BatchObserver]


@dataclass
class ModelVersion:
    name: str
    version: int
    path: Path
    backend_name: str
    metadata: ModelMetadata | None = None
    status: str = UNAVAILABLE
    reason: str | None = None
    backend: Backend | None = None
    batcher: DynamicBatcher | None = None
    codec: HeatmapCodec | None = None

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def ready(self) -> bool:
        return self.status == READY


@dataclass
class ModelRepository:
    root: Path
    models: dict[str, dict[int, ModelVersion]] = field(default_factory=dict)

    @property
    def ready_count(self) -> int:
        return sum(v.ready for versions in self.models.values() for v in versions.values())

    def default_version(self, name: str) -> ModelVersion | None:
        ready = [v for v in self.models.get(name, {}).values() if v.ready]
        return max(ready, key=lambda v: v.version) if ready else None

    def resolve(self, name: str | None, version: int | None, default_model: str | None) -> ModelVersion:
        """The version a request asks for; 404 for an unknown name/version, 503 when it is not ready."""
        if name is None:
            name = default_model
        if name is None:
            name = self._only_model()
        versions = self.models.get(name)
        if versions is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ServiceError(404, f"unknown model {name!r} (served: {known})")
        if version is None:
            chosen = self.default_version(name)
            if chosen is None:
                raise ServiceError(503, f"model {name!r} has no ready version")
            return chosen
        entry = versions.get(version)
        if entry is None:
            raise ServiceError(
                404, f"model {name!r} has no version {version} (has {', '.join(map(str, sorted(versions)))})"
            )
        if not entry.ready:
            raise ServiceError(503, f"model {name!r} version {version} is not ready: {entry.reason}")
        return entry

    def _only_model(self) -> str:
        """The model a request naming none gets: the only one, or the only one with a ready version."""
        if len(self.models) == 1:
            return next(iter(self.models))
        ready = sorted(name for name in self.models if self.default_version(name) is not None)
        if len(ready) == 1:
            return ready[0]
        if not ready:
            raise ServiceError(503, "no model has a ready version")
        raise ServiceError(400, f"several models are served ({', '.join(ready)}): choose with 'model'")

    def start(self) -> None:
        for versions in self.models.values():
            for entry in versions.values():
                if entry.batcher is not None:
                    entry.batcher.start()

    async def close(self) -> None:
        """Finish queued work, then release every backend."""
        for versions in self.models.values():
            for entry in versions.values():
                if entry.batcher is not None:
                    await entry.batcher.close()
                if entry.backend is not None:
                    entry.backend.close()


def find_versions(root: Path) -> list[tuple[str, int, Path]]:
    """(name, version, folder) of every version folder under the repository root."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found.extend((model_dir.name, v, model_dir / str(v)) for v in list_versions(model_dir))
    return found


def _load_version(
    entry: ModelVersion, settings: Settings, backend_factory: BackendFactory, observer: BatchObserver | None
) -> None:
    metadata = read_metadata(entry.path)
    entry.metadata = metadata
    if metadata.name != entry.name:
        raise ModelRepositoryError(f"metadata names model {metadata.name!r}, the folder {entry.name!r}")
    size = metadata.input.height
    if metadata.input.width != size or metadata.output.heatmap_width != metadata.output.heatmap_height:
        raise ModelRepositoryError("only square inputs and heatmaps are supported")
    verify_file(entry.path, metadata, model_file(entry.backend_name))
    codec = HeatmapCodec(input_size=size, heatmap_size=metadata.output.heatmap_height)
    backend = backend_factory(entry.backend_name, entry.path, settings)
    try:
        probe = backend.infer(np.zeros((1, size, size, 3), dtype=np.float32))
        expected = (
            1,
            metadata.output.nstack,
            metadata.output.num_joints,
            metadata.output.heatmap_height,
            metadata.output.heatmap_width,
        )
        if probe.shape != expected:
            raise ModelRepositoryError(f"the model outputs {probe.shape}, its metadata promises {expected}")
    except Exception:
        backend.close()
        raise
    entry.backend = backend
    entry.codec = codec
    entry.batcher = DynamicBatcher(
        backend.infer,
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000,
        queue_size=settings.queue_size,
        name=entry.label,
        on_batch=observer,
    )
    entry.status = READY


def _public_reason(error: Exception, root: Path) -> str:
    """The error without the server's repository path: clients see paths inside the repository only."""
    reason = str(error)
    for prefix in {str(root.resolve()), str(root.absolute()), str(root)}:
        reason = reason.replace(prefix + os.sep, "")
    return reason


def load_repository(
    settings: Settings,
    backend_name: str,
    backend_factory: BackendFactory = create_backend,
    observer_factory: ObserverFactory | None = None,
) -> ModelRepository:
    """Scan settings.model_repo and load every version on `backend_name`; a bad version never raises."""
    repository = ModelRepository(root=Path(settings.model_repo))
    for name, version, path in find_versions(settings.model_repo):
        entry = ModelVersion(name=name, version=version, path=path, backend_name=backend_name)
        repository.models.setdefault(name, {})[version] = entry
        observer = observer_factory(entry.label) if observer_factory else None
        try:
            _load_version(entry, settings, backend_factory, observer)
        except Exception as error:  # runtimes raise their own types; one bad version spares the rest
            entry.reason = _public_reason(error, Path(settings.model_repo))
            logger.error("model %s is not ready: %s", entry.label, error)
        else:
            logger.info("model %s ready on %s", entry.label, backend_name)
    return repository
