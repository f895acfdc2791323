"""Fixtures shared across test areas: a small exported model repository and the real service serving it.

- `tiny_model_repo` (session): a model repository with one version, `tiny/1`, exported by training.export
  from a seeded random-weight StackedHourglass(nstack=2, features=TINY_FEATURES) at TINY_INPUT_SIZE px.
- `running_service` (session): base URL ("http://127.0.0.1:PORT") of `python -m service` running as a
  subprocess on `tiny_model_repo` with the onnxruntime backend, ready when yielded.
- `launch_service` (function): a context-manager factory, `with launch_service(repo, env={...}) as svc:`,
  for a service with other settings (HGPOSE_* in `env`); `svc.url`, `svc.process`, `svc.log_path`.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from helpers import REPO_ROOT, free_port

TINY_MODEL_NAME = "tiny"
TINY_INPUT_SIZE = 64
TINY_FEATURES = 32
SERVICE_START_TIMEOUT_S = 120.0


def export_tiny_model(repo: Path, name: str = TINY_MODEL_NAME, version: int = 1, seed: int = 0) -> Path:
    """Export a seeded random-weight 2-stack network into repo/name/version with training.export."""
    from runtime.backends.cpu_isa import limit_onednn_isa

    limit_onednn_isa()
    import mindspore

    from training.export import export_network
    from training.network import StackedHourglass

    mindspore.set_seed(seed)
    net = StackedHourglass(nstack=2, features=TINY_FEATURES, num_joints=16)
    return export_network(
        net, repo, name, version, TINY_INPUT_SIZE, provenance={"weights": "random", "seed": seed}
    )


@pytest.fixture(scope="session")
def export_model() -> Callable[..., Path]:
    """export_tiny_model, for tests that export more versions (a conftest is not importable by name)."""
    return export_tiny_model


@pytest.fixture(scope="session")
def tiny_model_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("model_repo")
    export_tiny_model(repo)
    return repo


@dataclass
class ServiceProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_ready(service: ServiceProcess) -> None:
    deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            code = service.process.returncode
            raise RuntimeError(f"the service exited with {code}:\n{service.log()[-3000:]}")
        try:
            if httpx.get(f"{service.url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no service ready within {SERVICE_START_TIMEOUT_S} s:\n{service.log()[-3000:]}")


@contextmanager
def service_process(
    repo: Path, log_dir: Path, env: dict[str, str] | None = None, backend: str = "onnxruntime"
) -> Iterator[ServiceProcess]:
    """`python -m service` on a free port, ready on entry; SIGTERM (graceful shutdown) on exit."""
    port = free_port()
    log_path = log_dir / f"service-{port}.log"
    command = [
        sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port),
        "--model-repo", str(repo), "--backend", backend,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
    service = ServiceProcess(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_ready(service)
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def running_service(tiny_model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with service_process(tiny_model_repo, tmp_path_factory.mktemp("service_logs")) as service:
        yield service.url


@pytest.fixture
def launch_service(tmp_path: Path) -> Callable[..., AbstractContextManager[ServiceProcess]]:
    def launch(
        repo: Path, env: dict[str, str] | None = None, backend: str = "onnxruntime"
    ) -> AbstractContextManager[ServiceProcess]:
        return service_process(repo, tmp_path, env, backend)

    return launch
