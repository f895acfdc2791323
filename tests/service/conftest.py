"""Service test fixtures: the app served by uvicorn in a thread (real HTTP on 127.0.0.1)."""

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import ServedApp
from service_helpers import load_lite_double, repo_with_detector, serve_app

from service.settings import Settings


@pytest.fixture
def serve_in_thread(tiny_model_repo: Path) -> Iterator[Callable[..., ServedApp]]:
    """Factory: serve_in_thread(repo=None, backend_factory=None, **settings) -> ServedApp; servers stop at
    the end of the test."""
    stack: list[Any] = []

    def start(repo: Path | None = None, backend_factory: Any = None, **overrides: Any) -> ServedApp:
        overrides.setdefault("backend", "onnxruntime")
        context = serve_app(Settings(model_repo=repo or tiny_model_repo, **overrides), backend_factory)
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def serve(serve_in_thread: Callable[..., ServedApp]) -> Callable[..., str]:
    """Factory: serve(repo=None, backend_factory=None, **settings) -> base URL."""
    return lambda *args, **overrides: serve_in_thread(*args, **overrides).url


@pytest.fixture(scope="module")
def service_url(tiny_model_repo: Path) -> Iterator[str]:
    """One in-thread service per test module with default settings (onnxruntime)."""
    with serve_app(Settings(model_repo=tiny_model_repo, backend="onnxruntime")) as served:
        yield served.url


@pytest.fixture
def lite_double(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The TEST DOUBLE of mindspore_lite, imported as mindspore_lite for this test."""
    double = load_lite_double()
    monkeypatch.setitem(sys.modules, "mindspore_lite", double)
    return double


@pytest.fixture(scope="session")
def detecting_repo(tiny_model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test pose model and a copy of the shipped person detector."""
    return repo_with_detector(tiny_model_repo, tmp_path_factory.mktemp("detecting") / "repo")


@pytest.fixture(scope="module")
def detecting_service_url(detecting_repo: Path) -> Iterator[str]:
    """One in-thread service per test module on `detecting_repo` (onnxruntime)."""
    with serve_app(Settings(model_repo=detecting_repo, backend="onnxruntime")) as served:
        yield served.url
