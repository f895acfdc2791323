"""The model repository as served: every version of every model, loaded or listed with why it is not.

Layout model_repo/<name>/<version>/ as the training export writes it (core.model_repo). A version whose
metadata is malformed, whose model file is missing or fails its checksum, or whose backend cannot load or
run it, is kept in the listing as unavailable with the reason; the other versions serve. A model's
default is its newest ready version of the precision its backend prefers (backends.registry).
"""

from collections.abc import Mapping

from runtime.backends import backend_spec
from runtime.errors import AmbiguousModelError, ModelNotReadyError, UnknownModelError, shown
from runtime.repository.version import LoadedModel, ModelVersion


class ModelRepository:
    """Every model's versions by name and number: a snapshot, never changed once made.

    runtime.repository.live replaces the served snapshot as a whole when versions come and go.
    """

    def __init__(self, models: Mapping[str, Mapping[int, ModelVersion]] | None = None) -> None:
        self.models: Mapping[str, Mapping[int, ModelVersion]] = models or {}

    def loaded(self) -> list[LoadedModel]:
        return [
            v for versions in self.models.values() for v in versions.values() if isinstance(v, LoadedModel)
        ]

    @property
    def ready_count(self) -> int:
        return len(self.loaded())

    def default_version(self, name: str) -> LoadedModel | None:
        """The newest ready version of the first precision the backend prefers that has one."""
        ready = [v for v in self.models.get(name, {}).values() if isinstance(v, LoadedModel)]
        if not ready:
            return None
        for precision in backend_spec(ready[0].key.backend_name).default_precisions:
            preferred = [v for v in ready if v.metadata.precision == precision]
            if preferred:
                return max(preferred, key=lambda v: v.version)
        return max(ready, key=lambda v: v.version)

    def resolve(self, name: str | None, version: int | None, default_model: str | None) -> LoadedModel:
        """The version a request asks for: UnknownModelError, or ModelNotReadyError when it cannot serve."""
        if name is None:
            name = default_model
        if name is None:
            name = self._only_model()
        versions = self.models.get(name)
        if versions is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise UnknownModelError(f"unknown model {shown(name)} (served: {known})")
        if version is None:
            chosen = self.default_version(name)
            if chosen is None:
                raise ModelNotReadyError(f"model {name!r} has no ready version")
            return chosen
        entry = versions.get(version)
        if entry is None:
            raise UnknownModelError(
                f"model {name!r} has no version {version} (has {', '.join(map(str, sorted(versions)))})"
            )
        if not isinstance(entry, LoadedModel):
            raise ModelNotReadyError(f"model {name!r} version {version} is not ready: {entry.reason}")
        return entry

    def _only_model(self) -> str:
        """The model a request naming none gets: the only one, or the only one with a ready version."""
        if not self.models:
            raise ModelNotReadyError("no model is loaded")
        if len(self.models) == 1:
            return next(iter(self.models))
        ready = sorted(name for name in self.models if self.default_version(name) is not None)
        if len(ready) == 1:
            return ready[0]
        if not ready:
            raise ModelNotReadyError("no model has a ready version")
        raise AmbiguousModelError(f"several models are served ({', '.join(ready)}): choose with 'model'")

    def with_model(self, name: str, versions: Mapping[int, ModelVersion]) -> "ModelRepository":
        """A new snapshot in which `name` has `versions` (none: the model is gone); this one is unchanged."""
        models = {**self.models, name: versions}
        if not versions:
            del models[name]
        return ModelRepository(models)

    def start(self) -> None:
        for model in self.loaded():
            model.batcher.start()

    async def close(self) -> None:
        """Finish queued work, then release every backend."""
        for model in self.loaded():
            await model.batcher.close()
            model.backend.close()
