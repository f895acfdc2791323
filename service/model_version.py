"""One version of one model, as the service holds it: loaded and serving, or unavailable and why.

A version is one of two immutable types, so code that serves a request never meets half-loaded state:
a `LoadedModel` always has its metadata, codec, backend and batcher; an `UnavailableVersion` has a reason.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from core.codec import HeatmapCodec
from core.model_repo import ModelMetadata, ModelRepositoryError, read_metadata, verify_file
from service.backends import Backend, backend_spec
from service.batching import BatchObserver, DynamicBatcher
from service.settings import Settings

logger = logging.getLogger(__name__)

BackendFactory = Callable[[str, Path, Settings], Backend]


@dataclass(frozen=True)
class VersionKey:
    name: str
    version: int
    path: Path
    backend_name: str

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    """A version that serves: everything a request needs, fixed at load time."""

    status: ClassVar[str] = "ready"

    key: VersionKey
    metadata: ModelMetadata
    codec: HeatmapCodec
    backend: Backend
    batcher: DynamicBatcher

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def version(self) -> int:
        return self.key.version

    @property
    def label(self) -> str:
        return self.key.label


@dataclass(frozen=True)
class UnavailableVersion:
    """A version that is listed but cannot serve; `metadata` is kept when it could be read."""

    status: ClassVar[str] = "unavailable"

    key: VersionKey
    reason: str
    metadata: ModelMetadata | None = None

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def version(self) -> int:
        return self.key.version

    @property
    def label(self) -> str:
        return self.key.label


ModelVersion = LoadedModel | UnavailableVersion


def _checked_metadata(key: VersionKey) -> ModelMetadata:
    metadata = read_metadata(key.path)
    if metadata.name != key.name:
        raise ModelRepositoryError(f"metadata names model {metadata.name!r}, the folder {key.name!r}")
    if metadata.input.width != metadata.input.height or (
        metadata.output.heatmap_width != metadata.output.heatmap_height
    ):
        raise ModelRepositoryError("only square inputs and heatmaps are supported")
    verify_file(key.path, metadata, backend_spec(key.backend_name).model_file(key.path))
    return metadata


def _probe(backend: Backend, metadata: ModelMetadata) -> None:
    """One zero crop through the backend: its output must have the shape the metadata promises."""
    size = metadata.input.height
    probe = backend.infer(np.zeros((1, size, size, 3), dtype=np.float32))
    output = metadata.output
    expected = (1, output.nstack, output.num_joints, output.heatmap_height, output.heatmap_width)
    if probe.shape != expected:
        raise ModelRepositoryError(f"the model outputs {probe.shape}, its metadata promises {expected}")


def load_version(
    key: VersionKey, settings: Settings, backend_factory: BackendFactory, observer: BatchObserver | None
) -> ModelVersion:
    """Verify, load and probe one version; any failure gives an UnavailableVersion, never an exception."""
    metadata: ModelMetadata | None = None
    try:
        metadata = _checked_metadata(key)
        backend = backend_factory(key.backend_name, key.path, settings)
        try:
            _probe(backend, metadata)
        except Exception:
            backend.close()
            raise
    except Exception as error:  # runtimes raise their own types; one bad version spares the rest
        logger.error("model %s is not ready: %s", key.label, error)
        return UnavailableVersion(key, str(error), metadata)
    logger.info("model %s ready on %s", key.label, key.backend_name)
    batcher = DynamicBatcher(
        backend.infer,
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000,
        queue_size=settings.queue_size,
        name=key.label,
        on_batch=observer,
    )
    codec = HeatmapCodec(input_size=metadata.input.height, heatmap_size=metadata.output.heatmap_height)
    return LoadedModel(key, metadata, codec, backend, batcher)
