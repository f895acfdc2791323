"""The served repository while it changes: versions load, become default and are released while serving.

Triton's model control is the model. Poll mode (RuntimeOptions.repository_poll_s) rescans the repository
folder; explicit control loads or unloads one model on request (the edges' repository routes). A version is
loaded off the event loop (runtime.repository.version: checksums verified, backend loaded, warmed up at every
batch size it takes) and only a ready one joins the served snapshot, which is replaced in one assignment on
the event loop: a request sees the old snapshot or the new one, never a mix. A version that leaves the
snapshot (removed from disk, replaced by a changed folder, or unloaded) is retired: requests that hold it
finish, its batcher finishes its queue, then its backend is closed. A broken version is listed unavailable and
changes nothing else.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from runtime.backends import create_backend
from runtime.batching import BatchObserver
from runtime.errors import UnknownModelError
from runtime.options import RuntimeOptions
from runtime.repository.folders import model_dirs, version_folders, versions_on_disk
from runtime.repository.snapshot import ModelRepository
from runtime.repository.version import (
    LOADING,
    NOT_LOADED,
    UNLOADING,
    BackendFactory,
    Loaded,
    LoadedDetector,
    LoadedModel,
    ModelVersion,
    ServedVersion,
    State,
    UnavailableVersion,
    load_version,
    version_label,
)

logger = logging.getLogger(__name__)

ObserverFactory = Callable[[str], BatchObserver]
ServedT = TypeVar("ServedT", LoadedModel, LoadedDetector)
# What a version folder looked like when it was loaded: (file name, bytes, mtime in ns) of each file.
Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class VersionState:
    """One line of the repository index: a version on disk or in the service, and what it is doing."""

    name: str
    version: int
    state: State
    on_disk: bool
    is_default: bool = False
    reason: str | None = None


def fingerprint(version_dir: Path) -> Fingerprint:
    entries = []
    for path in sorted(Path(version_dir).iterdir()):
        stat = path.stat()
        entries.append((path.name, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class LiveRepository:
    """The served snapshot, the versions moving into or out of it, and the requests that hold them."""

    def __init__(
        self,
        options: RuntimeOptions,
        backend_factory: BackendFactory = create_backend,
        observer_factory: ObserverFactory | None = None,
    ) -> None:
        self.options = options
        self.root = Path(options.model_repo)
        self._backend_factory = backend_factory
        self._observer_factory = observer_factory
        self.snapshot = ModelRepository()
        self._fingerprints: dict[tuple[str, int], Fingerprint | None] = {}
        self._loading: set[tuple[str, int]] = set()
        self._retiring: dict[int, tuple[ServedVersion, asyncio.Task[None]]] = {}
        self._unloaded: set[str] = set()
        self._in_flight: Counter[int] = Counter()
        self._drained: dict[int, asyncio.Event] = {}
        self._control = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None

    # Loading -----------------------------------------------------------------------------------------

    def _load(self, name: str, version: int, path: Path) -> ModelVersion:
        """Verify, load and warm up one version (blocking: run off the event loop)."""
        try:
            self._fingerprints[(name, version)] = fingerprint(path)
        except OSError:
            self._fingerprints[(name, version)] = None
        observer = self._observer_factory(version_label(name, version)) if self._observer_factory else None
        return load_version(name, version, path, self.options, self._backend_factory, observer)

    def load_all(self) -> None:
        """The whole repository, as at startup (blocking: run off the event loop)."""
        models: dict[str, dict[int, ModelVersion]] = {}
        for model_dir in model_dirs(self.root):
            for version, path in versions_on_disk(model_dir).items():
                models.setdefault(model_dir.name, {})[version] = self._load(model_dir.name, version, path)
        self.snapshot = ModelRepository(models)
        for name in models:
            logger.info("model %s: %s", name, self._default_line(name))

    def start(self) -> None:
        """Start the batchers of the snapshot and, in poll mode, the poller (on the event loop)."""
        self.snapshot.start()
        if self.options.repository_poll_s > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    # Serving -----------------------------------------------------------------------------------------

    def lease(self, name: str | None, version: int | None) -> contextlib.AbstractContextManager[LoadedModel]:
        """The pose model version a request asks for, kept from release until the request is done with it."""
        return self._hold(self.snapshot.resolve(name, version, self.options.default_model))

    def lease_detector(
        self, name: str | None, version: int | None
    ) -> contextlib.AbstractContextManager[LoadedDetector]:
        """The detector version a request asks for, kept as `lease` keeps a pose model."""
        return self._hold(self.snapshot.resolve_detector(name, version, self.options.detection.model))

    @contextlib.contextmanager
    def _hold(self, model: ServedT) -> Iterator[ServedT]:
        token = id(model)
        self._in_flight[token] += 1
        try:
            yield model
        finally:
            self._in_flight[token] -= 1
            if not self._in_flight[token]:
                del self._in_flight[token]
                drained = self._drained.pop(token, None)
                if drained is not None:
                    drained.set()

    # Control -----------------------------------------------------------------------------------------

    def _has_model_dir(self, name: str) -> bool:
        return name in {d.name for d in model_dirs(self.root)}

    async def load_model(self, name: str) -> None:
        """Bring `name` in line with its folder: new or changed versions load, removed ones retire."""
        async with self._control:
            if not await asyncio.to_thread(self._has_model_dir, name) and name not in self.snapshot.models:
                raise UnknownModelError(f"the repository has no model {name!r}")
            self._unloaded.discard(name)
            await self._reconcile(name)

    async def unload_model(self, name: str) -> None:
        """Stop serving every version of `name` until it is loaded again (poll mode leaves it alone)."""
        async with self._control:
            if name not in self.snapshot.models and not await asyncio.to_thread(self._has_model_dir, name):
                raise UnknownModelError(f"the repository has no model {name!r}")
            self._unloaded.add(name)
            leaving = list(self.snapshot.models.get(name, {}).values())
            self.snapshot = self.snapshot.with_model(name, {})
            for entry in leaving:
                self._fingerprints.pop((entry.name, entry.version), None)
                self._retire(entry)
            logger.info("model %s unloaded on request", name)

    async def _reconcile(self, name: str) -> None:
        """Load what is new or changed in `name`'s folder, then swap it in and retire what it replaced."""
        on_disk = await asyncio.to_thread(versions_on_disk, self.root / name)
        served = self.snapshot.models.get(name, {})
        changed = await asyncio.to_thread(self._changed_versions, name, on_disk)
        incoming: dict[int, ModelVersion] = {}
        for version in changed:
            self._loading.add((name, version))
            try:
                incoming[version] = await asyncio.to_thread(self._load, name, version, on_disk[version])
            finally:
                self._loading.discard((name, version))
        removed = [v for v in served if v not in on_disk]
        if not incoming and not removed:
            return
        for entry in incoming.values():
            if isinstance(entry, Loaded):
                entry.batcher.start()
        versions = {v: entry for v, entry in served.items() if v not in removed}
        versions.update(incoming)
        self.snapshot = self.snapshot.with_model(name, versions)
        for version in removed:
            self._fingerprints.pop((name, version), None)
        leaving = [served[v] for v in removed] + [served[v] for v in incoming if v in served]
        for entry in leaving:
            self._retire(entry)
        logger.info(
            "model %s: loaded %s, retired %s; %s",
            name,
            sorted(incoming) or "none",
            sorted(e.version for e in leaving) or "none",
            self._default_line(name),
        )

    def _default_line(self, name: str) -> str:
        choice = self.snapshot.default_choice(name)
        return f"default version {choice.model.version} ({choice.reason})" if choice else "no default version"

    def _changed_versions(self, name: str, on_disk: dict[int, Path]) -> list[int]:
        """Versions whose folder differs from what was loaded (or was never loaded)."""
        changed = []
        for version, path in sorted(on_disk.items()):
            try:
                current = fingerprint(path)
            except OSError:
                continue  # changing under the scan: the next scan sees it settled
            if (name, version) not in self._fingerprints or self._fingerprints[(name, version)] != current:
                changed.append(version)
        return changed

    def _retire(self, entry: ModelVersion) -> None:
        if isinstance(entry, Loaded):
            task = asyncio.get_running_loop().create_task(self._release(entry))
            self._retiring[id(entry)] = (entry, task)

    async def _release(self, model: ServedVersion) -> None:
        """Wait for the requests holding `model`, let its batcher finish its queue, close its backend."""
        token = id(model)
        if self._in_flight[token]:
            drained = self._drained.setdefault(token, asyncio.Event())
            await drained.wait()
        await model.batcher.close()
        await asyncio.to_thread(model.backend.close)
        del self._retiring[token]
        logger.info("model %s released", model.label)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.options.repository_poll_s)
            try:
                async with self._control:
                    names = {d.name for d in await asyncio.to_thread(model_dirs, self.root)}
                    for name in sorted((names | set(self.snapshot.models)) - self._unloaded):
                        await self._reconcile(name)
            except Exception:  # a failed scan must not end polling; the next one retries
                logger.exception("scanning the model repository failed")

    # Reporting and shutdown --------------------------------------------------------------------------

    async def index(self) -> list[VersionState]:
        """Every version on disk or in the service, newest first per model."""
        on_disk = set(await asyncio.to_thread(version_folders, self.root))
        return self._states(on_disk)

    def _states(self, on_disk: set[tuple[str, int]]) -> list[VersionState]:
        states: list[VersionState] = []
        for name, versions in self.snapshot.models.items():
            default = self.snapshot.default_version(name)
            for version, entry in versions.items():
                reason = entry.reason if isinstance(entry, UnavailableVersion) else None
                on = (name, version) in on_disk
                states.append(VersionState(name, version, entry.status, on, entry is default, reason))
        for model, _ in self._retiring.values():
            states.append(
                VersionState(model.name, model.version, UNLOADING, (model.name, model.version) in on_disk)
            )
        served = {(name, version) for name, versions in self.snapshot.models.items() for version in versions}
        for name, version in sorted(on_disk - served):
            if (name, version) in self._loading:
                states.append(VersionState(name, version, LOADING, True))
            else:
                why = "unloaded on request" if name in self._unloaded else "not loaded yet"
                states.append(VersionState(name, version, NOT_LOADED, True, reason=why))
        return sorted(states, key=lambda s: (s.name, -s.version, s.state))

    async def close(self) -> None:
        """Stop polling, let retiring versions finish, then finish and release everything served."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        async with self._control:
            await asyncio.gather(*(task for _, task in list(self._retiring.values())))
            await self.snapshot.close()
