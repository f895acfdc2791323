"""onnxruntime's silent fall back from CUDA to the CPU is logged, and `devices` says what runs."""

import logging
from pathlib import Path

import onnxruntime as ort
import pytest

from core.model_repo import ONNX_FILE
from runtime.backends.onnxruntime import CPU_PROVIDER, CUDA_PROVIDER, OnnxRuntimeBackend
from runtime.options import OnnxRuntimeOptions

pytestmark = pytest.mark.slow

WARNING_START = "CUDA was requested"


def cuda_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and WARNING_START in r.message
    ]


@pytest.fixture
def onnx_path(tiny_model_repo: Path) -> Path:
    return tiny_model_repo / "tiny" / "1" / ONNX_FILE


@pytest.fixture
def cpu_only_build() -> None:
    if CUDA_PROVIDER in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: the CPU-only behaviour cannot be observed here")


def claim_cuda_is_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """A double for onnxruntime-gpu's list of providers; the session itself is real and cannot start CUDA."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA_PROVIDER, CPU_PROVIDER])


def test_cuda_asked_for_on_a_cpu_only_onnxruntime_warns(
    onnx_path: Path, cpu_only_build: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        backend = OnnxRuntimeBackend(onnx_path, OnnxRuntimeOptions(1, 1, use_cuda=True))
    assert backend.devices == [CPU_PROVIDER]
    (message,) = cuda_warnings(caplog)
    assert "no CUDA provider" in message and "gpu extra" in message


def test_cuda_offered_but_not_started_warns_even_when_not_asked_for(
    onnx_path: Path, cpu_only_build: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    claim_cuda_is_built_in(monkeypatch)
    with caplog.at_level(logging.WARNING):
        backend = OnnxRuntimeBackend(onnx_path, OnnxRuntimeOptions(1, 1, use_cuda=None))
    assert backend.devices == [CPU_PROVIDER]
    (message,) = cuda_warnings(caplog)
    assert "did not start" in message


@pytest.mark.parametrize("use_cuda", [None, False])
def test_no_warning_when_cuda_was_neither_asked_for_nor_offered(
    onnx_path: Path, cpu_only_build: None, caplog: pytest.LogCaptureFixture, use_cuda: bool | None
) -> None:
    with caplog.at_level(logging.WARNING):
        backend = OnnxRuntimeBackend(onnx_path, OnnxRuntimeOptions(1, 1, use_cuda=use_cuda))
    assert backend.devices == [CPU_PROVIDER]
    assert cuda_warnings(caplog) == []


def test_cuda_turned_off_stays_on_the_cpu_without_warning_on_a_gpu_build(
    onnx_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    claim_cuda_is_built_in(monkeypatch)
    with caplog.at_level(logging.WARNING):
        backend = OnnxRuntimeBackend(onnx_path, OnnxRuntimeOptions(1, 1, use_cuda=False))
    assert backend.devices == [CPU_PROVIDER]
    assert cuda_warnings(caplog) == []
