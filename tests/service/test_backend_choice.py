"""Each version's backend (runtime.backends.registry.choose_backend) and a model's default version
(runtime.repository.snapshot.choose_default): fast by default, as far as the accuracy guardrail vouches."""

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from service_helpers import load_lite_double

from core.model_repo import FP32, INT8, MINDIR_FILE, ONNX_FILE, OPENVINO_IR_FILE, ModelMetadata, read_metadata
from runtime.backends import BackendChoice, choose_backend
from runtime.options import BackendOptions, LiteOptions, RuntimeOptions
from runtime.repository.snapshot import choose_default
from runtime.repository.version import LoadedModel, VersionKey

AUTO = RuntimeOptions(backend="auto")


def version_dir(root: Path, *files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in files:
        (root / name).write_bytes(b"")
    return root


def test_auto_serves_an_int8_version_with_an_ir_on_openvino_and_the_rest_on_onnxruntime(
    tmp_path: Path,
) -> None:
    int8 = version_dir(tmp_path / "7", ONNX_FILE, OPENVINO_IR_FILE)
    fp32 = version_dir(tmp_path / "6", ONNX_FILE, MINDIR_FILE)
    assert choose_backend(AUTO, int8, INT8, device_dir=tmp_path).name == "openvino"
    assert choose_backend(AUTO, fp32, FP32, device_dir=tmp_path).name == "onnxruntime"
    assert choose_backend(AUTO, version_dir(tmp_path / "5", ONNX_FILE), INT8, device_dir=tmp_path) == (
        BackendChoice("onnxruntime", "auto: int8 without an OpenVINO IR")
    )
    assert "could not be read" in choose_backend(AUTO, fp32, None, device_dir=tmp_path).reason


def test_auto_keeps_int8_on_onnxruntime_when_openvino_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # what `import openvino` then does: ImportError
    choice = choose_backend(AUTO, version_dir(tmp_path / "7", OPENVINO_IR_FILE), INT8, device_dir=tmp_path)
    assert choice == BackendChoice(
        "onnxruntime", "auto: int8 with an OpenVINO IR, but openvino is not installed"
    )


def test_auto_picks_lite_only_with_package_ascend_device_and_a_mindir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fp32 = version_dir(tmp_path / "repo" / "6", ONNX_FILE, MINDIR_FILE)
    int8 = version_dir(tmp_path / "repo" / "7", ONNX_FILE, OPENVINO_IR_FILE)
    devices = tmp_path / "dev"
    devices.mkdir()
    assert choose_backend(AUTO, fp32, FP32, devices).name == "onnxruntime"
    monkeypatch.setitem(sys.modules, "mindspore_lite", load_lite_double())
    assert choose_backend(AUTO, fp32, FP32, devices).name == "onnxruntime"  # no NPU
    (devices / "davinci0").touch()
    assert choose_backend(AUTO, fp32, FP32, devices).name == "lite"
    assert choose_backend(AUTO, int8, INT8, devices).name == "openvino"  # no MINDIR: not Lite's
    other_device = RuntimeOptions(backends=BackendOptions(lite=LiteOptions(device_id=1)))
    assert choose_backend(other_device, fp32, FP32, devices).name == "onnxruntime"
    cpu_target = RuntimeOptions(backends=BackendOptions(lite=LiteOptions(target="cpu")))
    assert choose_backend(cpu_target, fp32, FP32, devices).name == "onnxruntime"


def test_a_named_backend_serves_every_version(tmp_path: Path) -> None:
    int8 = version_dir(tmp_path / "7", ONNX_FILE, OPENVINO_IR_FILE)
    for name in ("onnxruntime", "openvino", "mindspore"):
        choice = choose_backend(RuntimeOptions(backend=name), int8, INT8, device_dir=tmp_path)
        assert choice == BackendChoice(name, f"the backend setting names {name}")


def quantization(
    drop: float, limit: float = 0.5, forced: bool = False, runtime: str = "openvino"
) -> dict[str, Any]:
    """The accuracy record training.quantize writes, with the figures given."""
    return {
        "accuracy": {
            "max_drop_points": limit,
            "forced_past_guardrail": forced,
            "runtimes": {runtime: {"fp32": 0.7, "int8": 0.7 - drop / 100, "drop_points": drop}},
        }
    }


@pytest.fixture(scope="module")
def fp32_metadata(tiny_model_repo: Path) -> ModelMetadata:
    return read_metadata(tiny_model_repo / "tiny" / "1")


def ready(metadata: ModelMetadata, version: int, backend: str, **changes: Any) -> LoadedModel:
    """A ready version as the snapshot sees it: key and metadata (choose_default reads nothing else)."""
    key = VersionKey("tiny", version, Path("tiny") / str(version), BackendChoice(backend, "test"))
    return LoadedModel(key, replace(metadata, version=version, **changes), None, None, None)  # type: ignore[arg-type]


def int8_of(metadata: ModelMetadata, version: int, source: int, backend: str, **record: Any) -> LoadedModel:
    return ready(
        metadata, version, backend, precision=INT8, source_version=source, quantization=quantization(**record)
    )


def test_the_default_is_int8_on_openvino_when_its_guardrail_passed(fp32_metadata: ModelMetadata) -> None:
    fp32 = ready(fp32_metadata, 6, "onnxruntime")
    int8 = int8_of(fp32_metadata, 7, 6, "openvino", drop=-0.9)
    choice = choose_default([fp32, int8])
    assert choice is not None and choice.model is int8
    assert choice.reason == (
        "int8 of the newest export (version 6) on openvino, faster than fp32, "
        "and its accuracy guardrail passed"
    )


@pytest.mark.parametrize(
    ("backend", "record", "why"),
    [
        ("onnxruntime", {"drop": 0.0}, "onnxruntime runs int8 no faster than fp32"),
        ("openvino", {"drop": 0.6}, "it loses 0.6 accuracy points on openvino, over the limit of 0.5"),
        ("openvino", {"drop": 0.0, "forced": True}, "it was written past the accuracy guardrail (--force)"),
        ("openvino", {"drop": 0.0, "runtime": "onnxruntime"}, "its accuracy was not checked on openvino"),
    ],
)
def test_the_default_stays_fp32_unless_int8_is_faster_and_vouched_for(
    fp32_metadata: ModelMetadata, backend: str, record: dict[str, Any], why: str
) -> None:
    fp32 = ready(fp32_metadata, 6, "onnxruntime")
    choice = choose_default([fp32, int8_of(fp32_metadata, 7, 6, backend, **record)])
    assert choice is not None and choice.model is fp32
    assert choice.reason == f"fp32, the newest export; version 7 not preferred: {why}"


def test_a_newer_fp32_export_becomes_the_default_before_it_is_quantised(fp32_metadata: ModelMetadata) -> None:
    old_int8 = int8_of(fp32_metadata, 7, 6, "openvino", drop=0.0)
    new_fp32 = ready(fp32_metadata, 8, "onnxruntime")
    choice = choose_default([ready(fp32_metadata, 6, "onnxruntime"), old_int8, new_fp32])
    assert choice is not None and choice.model is new_fp32
    newer_int8 = int8_of(fp32_metadata, 9, 8, "openvino", drop=0.0)
    choice = choose_default([old_int8, new_fp32, newer_int8])
    assert choice is not None and choice.model is newer_int8


def test_an_int8_version_whose_fp32_source_is_not_ready_is_still_the_newest_export(
    fp32_metadata: ModelMetadata,
) -> None:
    lonely = int8_of(fp32_metadata, 7, 6, "onnxruntime", drop=0.0)
    choice = choose_default([ready(fp32_metadata, 4, "onnxruntime"), lonely])
    assert choice is not None and choice.model is lonely
    assert choice.reason.startswith("the newest version of the newest export; version 7 not preferred")
    assert choose_default([]) is None
