"""What tests in every area share: where the repository and its fixtures are, free ports, an in-thread server.

Importable as `helpers` from any test module (pytest puts `tests/` on the path for `tests/conftest.py`).
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from core.mpii import MPII_SAMPLE_DIR

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"
GOLDEN = FIXTURES / "golden"
MPII_DIR = MPII_SAMPLE_DIR  # valid.h5 (2958 entries) and the images of entries 0-4
MPII_ANNOTATIONS = MPII_DIR / "annot" / "valid.h5"
MPII_IMAGES = MPII_DIR / "images"

SERVER_START_TIMEOUT_S = 120.0
SERVER_STOP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServedApp:
    """An app under uvicorn in a thread: its base URL and the server (`should_exit` shuts it down)."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)


@contextmanager
def app_in_thread(app: Any, **config: Any) -> Iterator[ServedApp]:
    """Run an ASGI app under uvicorn in a thread on a free 127.0.0.1 port; yields it, served.

    `config` goes to uvicorn.Config. The socket is bound here, before the thread starts, so the port cannot
    be taken in between.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-thread server did not start")
        time.sleep(0.01)
    try:
        yield ServedApp(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_STOP_TIMEOUT_S)
        sock.close()


def post_pose(
    url: str,
    image: bytes,
    persons: list[dict[str, Any]],
    query: str = "",
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    **fields: str,
) -> httpx.Response:
    """POST /v1/pose as multipart: `image` as the file, `persons` as JSON, the other form fields as given."""
    data = {"persons": json.dumps(persons), **fields}
    files = {"image": ("image", image)}
    return httpx.post(f"{url}/v1/pose{query}", files=files, data=data, headers=headers, timeout=timeout)
