"""Service test fixtures: the app served by uvicorn in a thread (real HTTP on 127.0.0.1)."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from service_helpers import ServedApp

from service.app import create_app
from service.server import server_options
from service.settings import Settings

SERVER_START_TIMEOUT_S = 120.0


@contextmanager
def serve_app(settings: Settings, backend_factory: Any = None) -> Iterator[ServedApp]:
    """create_app(settings) under uvicorn in a thread on a free port, configured as `python -m service`."""
    app = create_app(settings, backend_factory=backend_factory)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, **server_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-thread service did not start")
        time.sleep(0.05)
    try:
        yield ServedApp(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


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
