"""What the OIP tests share: the service speaking the Open Inference Protocol on both ports, in a thread."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import free_port
from service_helpers import serve_app

from service.settings import Settings


@dataclass(frozen=True)
class OipService:
    url: str  # REST: http://127.0.0.1:PORT
    grpc: str  # gRPC: 127.0.0.1:PORT

    @property
    def host_port(self) -> str:
        """REST as tritonclient.http takes it: host:port."""
        return self.url.removeprefix("http://")


@contextmanager
def serve_oip(repo: Path, **overrides: Any) -> Iterator[OipService]:
    """serve_app with gRPC on a free port (onnxruntime unless `overrides` name a backend)."""
    overrides.setdefault("backend", "onnxruntime")
    settings = Settings(model_repo=repo, grpc_port=free_port(), **overrides)
    with serve_app(settings) as served:
        yield OipService(served.url, f"127.0.0.1:{settings.grpc_port}")
