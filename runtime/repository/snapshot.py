"""The model repository as served: every version of every model, loaded or listed with why it is not.

Layout model_repo/<name>/<version>/ as the training export writes it (core.model_repo). A version whose
metadata is malformed, whose model file is missing or fails its checksum, or whose backend cannot load or
run it, is kept in the listing as unavailable with the reason; the other versions serve.

A model's default is the newest model served the fastest way its accuracy guardrail vouches for: of the
ready versions made from the newest fp32 export (that export and the int8 versions quantised from it), an
int8 one on a backend that runs int8 faster than fp32 (backends.registry) whose guardrail passed on that
backend, else the fp32 one, else the newest of them.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from core.model_repo import DETECTOR, FP32, POSE
from runtime.backends import backend_spec
from runtime.errors import (
    AmbiguousModelError,
    InvalidInputError,
    ModelNotReadyError,
    NoDetectorError,
    UnknownModelError,
    shown,
)
from runtime.repository.version import (
    Loaded,
    LoadedDetector,
    LoadedModel,
    ModelVersion,
    ServedVersion,
    UnavailableVersion,
)


@dataclass(frozen=True)
class DefaultChoice:
    """The version a request naming none gets, and why (logged; shown by /v1/models)."""

    model: ServedVersion
    reason: str


def _export(version: ServedVersion) -> int:
    """The fp32 export a version comes from: itself, or the version an int8 one was quantised from."""
    return version.metadata.source_version or version.version


def _newest(versions: list[ServedVersion]) -> ServedVersion:
    return max(versions, key=lambda v: v.version)


def _not_faster(version: ServedVersion) -> str | None:
    """Why a reduced-precision version is not preferred to fp32, or None when it is."""
    backend = version.key.backend_name
    if version.metadata.precision not in backend_spec(backend).fast_precisions:
        return f"{backend} runs {version.metadata.precision} no faster than fp32"
    return version.metadata.guardrail_problem(backend)


def choose_default(ready: list[ServedVersion]) -> DefaultChoice | None:
    """The default among a model's ready versions (see the module's docstring)."""
    if not ready:
        return None
    export = max(_export(v) for v in ready)
    family = [v for v in ready if _export(v) == export]
    reduced = [v for v in family if v.metadata.precision != FP32]
    fast = [v for v in reduced if _not_faster(v) is None]
    if fast:
        chosen = _newest(fast)
        return DefaultChoice(
            chosen,
            f"{chosen.metadata.precision} of the newest export (version {export}) on "
            f"{chosen.key.backend_name}, faster than fp32, and its accuracy guardrail passed",
        )
    passed_over = "; ".join(f"version {v.version} not preferred: {_not_faster(v)}" for v in reduced)
    fp32 = [v for v in family if v.metadata.precision == FP32]
    chosen = _newest(fp32 or family)
    what = "fp32, the newest export" if fp32 else "the newest version of the newest export"
    return DefaultChoice(chosen, f"{what}" + (f"; {passed_over}" if passed_over else ""))


class ModelRepository:
    """Every model's versions by name and number: a snapshot, never changed once made.

    runtime.repository.live replaces the served snapshot as a whole when versions come and go. A model's
    kind (pose or detector) is its versions' metadata's; a model none of whose metadata could be read counts
    as a pose model, so that a request for it says why it is not ready.
    """

    def __init__(self, models: Mapping[str, Mapping[int, ModelVersion]] | None = None) -> None:
        self.models: Mapping[str, Mapping[int, ModelVersion]] = models or {}

    def loaded(self) -> list[ServedVersion]:
        """Every version that serves, of every kind."""
        return [v for versions in self.models.values() for v in versions.values() if isinstance(v, Loaded)]

    @property
    def ready_count(self) -> int:
        return len(self.loaded())

    def kind_of(self, name: str) -> str:
        """The kind of model `name` is, from the first of its versions whose metadata could be read."""
        kinds = [v.kind for v in self.models.get(name, {}).values() if v.kind is not None]
        return kinds[0] if kinds else POSE

    def default_choice(self, name: str) -> DefaultChoice | None:
        """The version a request for `name` without a version gets, with why; None when none is ready."""
        return choose_default([v for v in self.models.get(name, {}).values() if isinstance(v, Loaded)])

    def default_version(self, name: str) -> ServedVersion | None:
        choice = self.default_choice(name)
        return choice.model if choice else None

    def resolve(self, name: str | None, version: int | None, default_model: str | None) -> LoadedModel:
        """The pose model version a request asks for: UnknownModelError, or ModelNotReadyError when it
        cannot serve."""
        entry = self._resolve(name, version, default_model, POSE)
        assert isinstance(entry, LoadedModel)  # _resolve returns a version of the kind asked for
        return entry

    def resolve_detector(self, name: str | None, version: int | None, default: str | None) -> LoadedDetector:
        """The detector version a request asks for; NoDetectorError when it names none and none is ready."""
        if name is None and default is None and not self.ready_names(DETECTOR):
            raise NoDetectorError(
                "no persons were given and no person detector is ready: give persons (a box per person, or "
                "the whole image as one box), or serve a detector"
            )
        entry = self._resolve(name, version, default, DETECTOR)
        assert isinstance(entry, LoadedDetector)
        return entry

    def ready_names(self, kind: str) -> list[str]:
        """Models of `kind` with a ready version, by name."""
        return sorted(
            name
            for name in self.models
            if self.kind_of(name) == kind and self.default_version(name) is not None
        )

    def _resolve(
        self, name: str | None, version: int | None, default_model: str | None, kind: str
    ) -> ServedVersion:
        if name is None:
            name = default_model
        if name is None:
            name = self._only_model(kind)
        versions = self.models.get(name)
        if versions is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise UnknownModelError(f"unknown model {shown(name)} (served: {known})")
        if self.kind_of(name) != kind:
            raise InvalidInputError(f"model {name!r} is a {self.kind_of(name)} model, not a {kind} model")
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
        if isinstance(entry, UnavailableVersion):
            raise ModelNotReadyError(f"model {name!r} version {version} is not ready: {entry.reason}")
        return entry

    def _only_model(self, kind: str) -> str:
        """The model of `kind` a request naming none gets: the only one, or the only one with a ready
        version."""
        names = sorted(name for name in self.models if self.kind_of(name) == kind)
        if not names:
            raise ModelNotReadyError("no model is loaded" if kind == POSE else f"no {kind} model is served")
        if len(names) == 1:
            return names[0]
        ready = self.ready_names(kind)
        if len(ready) == 1:
            return ready[0]
        if not ready:
            raise ModelNotReadyError(f"no {kind} model has a ready version")
        field = "model" if kind == POSE else "detector"
        raise AmbiguousModelError(
            f"several {kind} models are served ({', '.join(ready)}): choose with '{field}'"
        )

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
