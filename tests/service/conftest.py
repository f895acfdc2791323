"""Service test fixtures: the app served by uvicorn in a thread (real HTTP on 127.0.0.1)."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from helpers import serve_in_thread

from service.app import create_app
from service.settings import Settings


def serve_app(settings: Settings, backend_factory: Any = None) -> AbstractContextManager[str]:
    """create_app(settings) under uvicorn in a thread on a free port; yields the base URL."""
    app = create_app(settings, backend_factory=backend_factory)
    return serve_in_thread(app, log_config=None, access_log=False, timeout_graceful_shutdown=10)


@pytest.fixture
def serve(tiny_model_repo: Path) -> Iterator[Callable[..., str]]:
    """Factory: serve(repo=None, **settings) -> base URL; servers stop at the end of the test."""
    stack: list[Any] = []

    def start(repo: Path | None = None, backend_factory: Any = None, **overrides: Any) -> str:
        overrides.setdefault("backend", "onnxruntime")
        context = serve_app(Settings(model_repo=repo or tiny_model_repo, **overrides), backend_factory)
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def service_url(tiny_model_repo: Path) -> Iterator[str]:
    """One in-thread service per test module with default settings (onnxruntime)."""
    with serve_app(Settings(model_repo=tiny_model_repo, backend="onnxruntime")) as url:
        yield url
