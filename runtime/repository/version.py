"""One version of one model, as the service holds it: loaded and serving, or unavailable and why.

A version is one of three immutable types, so code that serves a request never meets half-loaded state: a
`LoadedModel` (pose) or `LoadedDetector` always has its metadata, codec, backend and batcher; an
`UnavailableVersion` has a reason. Which of the first two a folder loads as, its metadata's kind says.
"""

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, Literal, TypeVar, get_args

import numpy as np

from core.codec import HeatmapCodec
from core.detection import DetectorCodec
from core.model_repo import (
    DETECTOR,
    NCHW,
    POSE,
    UINT8,
    DetectorMetadata,
    ModelMetadata,
    ModelRepositoryError,
    VersionMetadata,
    read_version_metadata,
    verify_file,
)
from runtime.backends import Backend, BackendChoice, backend_spec, choose_backend
from runtime.batching import BatchObserver, DynamicBatcher
from runtime.options import RuntimeOptions

logger = logging.getLogger(__name__)

BackendFactory = Callable[[str, Path, RuntimeOptions], Backend]

# What a version is doing: served (ready), listed but broken (unavailable), or moving in or out.
State = Literal["ready", "unavailable", "loading", "unloading", "not loaded"]
READY, UNAVAILABLE, LOADING, UNLOADING, NOT_LOADED = get_args(State)


def version_label(name: str, version: int) -> str:
    """How logs and metrics name a version: `name:version`."""
    return f"{name}:{version}"


@dataclass(frozen=True)
class VersionKey:
    """Which version, where, and the backend runtime.backends.registry chose for it (with why)."""

    name: str
    version: int
    path: Path
    backend: BackendChoice

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def label(self) -> str:
        return version_label(self.name, self.version)


@dataclass(frozen=True)
class _Keyed:
    """What every listed version answers to: its name, number and label, from its key."""

    key: VersionKey

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def version(self) -> int:
        return self.key.version

    @property
    def label(self) -> str:
        return self.key.label


MetadataT = TypeVar("MetadataT", ModelMetadata, DetectorMetadata)
CodecT = TypeVar("CodecT", HeatmapCodec, DetectorCodec)


@dataclass(frozen=True)
class Loaded(_Keyed, Generic[MetadataT, CodecT]):
    """A version that serves: everything a request needs, fixed at load time."""

    status: ClassVar[State] = READY

    metadata: MetadataT
    codec: CodecT
    backend: Backend
    batcher: DynamicBatcher


@dataclass(frozen=True)
class LoadedModel(Loaded[ModelMetadata, HeatmapCodec]):
    """A pose model: person crops in, heatmaps out."""

    kind: ClassVar[str] = POSE


@dataclass(frozen=True)
class LoadedDetector(Loaded[DetectorMetadata, DetectorCodec]):
    """A person detector: an image in, boxes out."""

    kind: ClassVar[str] = DETECTOR


@dataclass(frozen=True)
class UnavailableVersion(_Keyed):
    """A version that is listed but cannot serve; `metadata` is kept when it could be read."""

    status: ClassVar[State] = UNAVAILABLE

    reason: str
    metadata: VersionMetadata | None = None

    @property
    def kind(self) -> str | None:
        return None if self.metadata is None else self.metadata.kind


ServedVersion = LoadedModel | LoadedDetector
ModelVersion = LoadedModel | LoadedDetector | UnavailableVersion


def _checked_metadata(name: str, path: Path) -> VersionMetadata:
    metadata = read_version_metadata(path)
    if metadata.name != name:
        raise ModelRepositoryError(f"metadata names model {metadata.name!r}, the folder {name!r}")
    return metadata


def _probe_input(metadata: VersionMetadata, batch: int) -> np.ndarray:
    """Zeros of the shape and type the version's network takes, `batch` of them."""
    if isinstance(metadata, ModelMetadata):
        size = metadata.input.height
        return np.zeros((batch, size, size, 3), dtype=np.float32)
    spec = metadata.input
    sample = (3, spec.height, spec.width) if spec.layout == NCHW else (spec.height, spec.width, 3)
    return np.zeros((batch, *sample), dtype=np.uint8 if spec.dtype == UINT8 else np.float32)


def _output_problem(
    metadata: VersionMetadata, codec: HeatmapCodec | DetectorCodec, shape: tuple[int, ...]
) -> str | None:
    """Why an output of `shape` for a probe batch is not what the metadata promises, or None."""
    if isinstance(codec, DetectorCodec):
        return codec.output_problem(shape)
    assert isinstance(metadata, ModelMetadata)
    output = metadata.output
    expected = (shape[0], output.nstack, output.num_joints, output.heatmap_height, output.heatmap_width)
    return None if shape == expected else f"the model outputs {shape}, its metadata promises {expected}"


def _warm_up(
    backend: Backend, metadata: VersionMetadata, codec: HeatmapCodec | DetectorCodec, label: str
) -> None:
    """Zero inputs through the backend at every batch size it takes (one when it takes any), so that a
    runtime compiling per batch size (Lite on Ascend, per gear) does so before the version turns ready; each
    output must have the shape the metadata promises. Logs the time of each size."""
    for batch in backend.batch_sizes or (1,):
        started = time.perf_counter()
        probe = backend.infer(_probe_input(metadata, batch))
        elapsed = time.perf_counter() - started
        problem = _output_problem(metadata, codec, tuple(probe.shape))
        if problem is not None or probe.shape[0] != batch:
            raise ModelRepositoryError(problem or f"the model outputs {probe.shape} for a batch of {batch}")
        logger.info("model %s warmed up at batch %d in %.3f s", label, batch, elapsed)


def _codec(metadata: VersionMetadata) -> HeatmapCodec | DetectorCodec:
    if isinstance(metadata, ModelMetadata):
        return HeatmapCodec.from_metadata(metadata)
    return DetectorCodec.from_metadata(metadata)


def _public_reason(error: Exception, root: Path) -> str:
    """The error without the server's repository path: clients see paths inside the repository only."""
    reason = str(error)
    for prefix in {str(root.resolve()), str(root.absolute()), str(root)}:
        reason = reason.replace(prefix + os.sep, "")
    return reason


def load_version(
    name: str,
    version: int,
    path: Path,
    options: RuntimeOptions,
    backend_factory: BackendFactory,
    observer: BatchObserver | None,
) -> ModelVersion:
    """Verify, load and probe one version on the backend chosen for it; any failure gives an
    UnavailableVersion, never an exception."""
    metadata: VersionMetadata | None = None
    key = VersionKey(name, version, path, choose_backend(options, path, None))
    try:
        metadata = _checked_metadata(name, path)
        key = VersionKey(name, version, path, choose_backend(options, path, metadata.precision))
        verify_file(path, metadata, backend_spec(key.backend_name).model_file(path))
        codec = _codec(metadata)
        backend = backend_factory(key.backend_name, key.path, options)
        try:
            _warm_up(backend, metadata, codec, key.label)
        except Exception:
            backend.close()
            raise
    except Exception as error:  # runtimes raise their own types; one bad version spares the rest
        reason = key.backend.reason
        logger.error("model %s is not ready on %s (%s): %s", key.label, key.backend_name, reason, error)
        return UnavailableVersion(key, _public_reason(error, key.path.parent.parent), metadata)
    logger.info("model %s ready on %s (%s)", key.label, key.backend_name, key.backend.reason)
    batching = options.batching
    batcher = DynamicBatcher(
        backend.infer,
        max_batch=batching.max_batch,
        max_wait_s=batching.max_wait_s,
        queue_size=batching.queue_size,
        name=key.label,
        on_batch=observer,
        batch_sizes=backend.batch_sizes,
    )
    if batcher.max_batch < batching.max_batch:
        logger.info(
            "model %s: batches hold at most %d crops, the backend's largest batch size (max_batch is %d)",
            key.label,
            batcher.max_batch,
            batching.max_batch,
        )
    if isinstance(metadata, ModelMetadata) and isinstance(codec, HeatmapCodec):
        return LoadedModel(key, metadata, codec, backend, batcher)
    assert isinstance(metadata, DetectorMetadata) and isinstance(codec, DetectorCodec)
    return LoadedDetector(key, metadata, codec, backend, batcher)
