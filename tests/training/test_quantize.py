"""training.quantize: NNCF int8 of a tiny exported network, its guardrail, and the service serving it."""

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from helpers import post_pose

from core.metrics import score_predictions
from core.model_repo import (
    FP32,
    INT8,
    METADATA_FILE,
    ONNX_FILE,
    OPENVINO_IR_FILE,
    OPENVINO_WEIGHTS_FILE,
    list_versions,
    read_metadata,
    verify_file,
)
from core.mpii import read_annotations
from runtime.options import RuntimeOptions
from runtime.repository.live import LiveRepository
from training import quantize
from training.dataset import crop_batch
from training.scoring import predict_keypoints
from training.synth import generate

pytestmark = pytest.mark.slow

PERSONS = 8


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, train=PERSONS, val=PERSONS, seed=11, size_range=(128, 160), workers=1)
    return out


@pytest.fixture
def repo(tiny_model_repo: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny repository (tiny/1, fp32), so each test writes its own versions."""
    shutil.copytree(tiny_model_repo, tmp_path / "repo")
    return tmp_path / "repo"


def run(repo: Path, data: Path, *extra: str) -> int:
    return quantize.main(
        ["--repo", str(repo), "--name", "tiny", "--version", "1", "--data", str(data),
         "--calibration-persons", str(PERSONS), "--validation-persons", str(PERSONS), *extra]
    )  # fmt: skip


def onnxruntime_seed_pck(model_dir: Path, data: Path) -> float:
    """An oracle for the fp32 figure: the source ONNX run by onnxruntime directly, same crops and codec."""
    session = ort.InferenceSession(str(model_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    annotations = read_annotations(data / "annot" / "valid.h5").subset(PERSONS)
    preds, _ = predict_keypoints(
        lambda crops: session.run(None, {"images": crops})[0][:, -1], annotations, data / "images", 64
    )
    return score_predictions(annotations, preds).seed.ratio("all", "total")


def test_writes_an_int8_version_with_its_source_and_both_figures(
    repo: Path, synth_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(repo, synth_data, "--max-drop", "100", "--runtimes", "openvino", "onnxruntime") == 0

    target = repo / "tiny" / "2"
    metadata = read_metadata(target)
    for name in (ONNX_FILE, OPENVINO_IR_FILE, OPENVINO_WEIGHTS_FILE):
        verify_file(target, metadata, name)
    assert (metadata.precision, metadata.source_version) == (INT8, 1)
    source = read_metadata(repo / "tiny" / "1")
    assert (metadata.input, metadata.output, metadata.joint_names) == (
        source.input,
        source.output,
        source.joint_names,
    )
    accuracy = metadata.quantization["accuracy"]
    assert set(accuracy["runtimes"]) == {"openvino", "onnxruntime"}
    oracle = onnxruntime_seed_pck(repo / "tiny" / "1", synth_data)
    assert accuracy["runtimes"]["onnxruntime"]["fp32"] == oracle
    for figures in accuracy["runtimes"].values():
        assert 0.0 <= figures["int8"] <= 1.0
        assert figures["drop_points"] == pytest.approx(100 * (figures["fp32"] - figures["int8"]), abs=1e-3)
    assert metadata.quantization["calibration"]["persons"] == PERSONS
    assert accuracy["forced_past_guardrail"] is False
    assert "openvino: seed PCK fp32" in capsys.readouterr().out

    graph_ops = {node.op_type for node in onnx.load(str(target / ONNX_FILE)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= graph_ops


def test_the_guardrail_refuses_to_write_unless_forced(
    repo: Path, synth_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A negative allowance means "int8 must gain accuracy", which no quantisation does for certain here.
    assert run(repo, synth_data, "--max-drop", "-101") == 1
    assert "nothing written" in capsys.readouterr().err
    assert list_versions(repo / "tiny") == [1]

    assert run(repo, synth_data, "--max-drop", "-101", "--force", "--to-version", "7") == 0
    metadata = read_metadata(repo / "tiny" / "7")
    assert metadata.quantization["accuracy"]["forced_past_guardrail"] is True
    assert metadata.quantization["accuracy"]["max_drop_points"] == -101


def test_only_fp32_versions_are_quantised(repo: Path, synth_data: Path) -> None:
    metadata_path = repo / "tiny" / "1" / METADATA_FILE
    metadata = json.loads(metadata_path.read_text())
    metadata_path.write_text(json.dumps({**metadata, "precision": INT8}))
    request = quantize.parse_args(
        ["--repo", str(repo), "--name", "tiny", "--version", "1", "--data", str(synth_data)]
    )
    with pytest.raises(quantize.QuantizeError, match="is int8, not fp32"):
        quantize.quantize_version(request)


def test_metadata_without_precision_reads_as_fp32(repo: Path) -> None:
    metadata = json.loads((repo / "tiny" / "1" / METADATA_FILE).read_text())
    metadata.pop("precision", None)
    metadata.pop("source_version", None)
    (repo / "tiny" / "1" / METADATA_FILE).write_text(json.dumps(metadata))
    assert read_metadata(repo / "tiny" / "1").precision == FP32


def test_calibration_mirrors_every_other_crop(synth_data: Path) -> None:
    annotations = read_annotations(synth_data / "annot" / "train.h5")
    crops = quantize.calibration_crops(annotations, synth_data / "images", 64, 4, seed=0)
    plain = crop_batch(
        annotations.select(np.sort(np.random.default_rng(0).choice(len(annotations), 4, replace=False))),
        range(4),
        synth_data / "images",
        64,
    )
    np.testing.assert_array_equal(crops[0::2], plain[0::2])
    np.testing.assert_array_equal(crops[1::2], plain[1::2, :, ::-1])


def test_the_service_serves_int8_on_openvino_from_the_ir_by_default(
    repo: Path, synth_data: Path, launch_service
) -> None:
    """The default backend setting (auto) runs the int8 version on OpenVINO and the fp32 one on onnxruntime,
    and serves int8 to requests naming no version, since its guardrail passed."""
    assert run(repo, synth_data, "--max-drop", "100") == 0
    with launch_service(repo, backend="auto") as service:
        listing = httpx.get(f"{service.url}/v1/models", timeout=30).json()["models"][0]
        versions = {v["version"]: v for v in listing["versions"]}
        assert listing["default_version"] == 2
        assert listing["default_reason"] == (
            "int8 of the newest export (version 1) on openvino, faster than fp32, "
            "and its accuracy guardrail passed"
        )
        assert versions[2]["status"] == "ready"
        assert (versions[2]["precision"], versions[2]["source_version"]) == (INT8, 1)
        assert (versions[2]["model_file"], versions[2]["devices"]) == (OPENVINO_IR_FILE, ["CPU"])
        assert versions[2]["backend"] == "openvino"
        assert "OpenVINO IR" in versions[2]["backend_reason"]
        assert (versions[1]["precision"], versions[1]["backend"]) == (FP32, "onnxruntime")
        assert versions[1]["backend_reason"] == "auto: fp32 on the CPU"
        assert "model tiny:2 ready on openvino (auto: int8 with an OpenVINO IR" in service.log()
        image = synth_data / "images" / read_annotations(synth_data / "annot" / "valid.h5").imgname[0]
        response = post_pose(service.url, image.read_bytes(), [{"box": [0, 0, 100, 120]}], version="2")
        assert response.status_code == 200, response.text
        assert response.json()["model"]["precision"] == INT8


def test_onnxruntime_keeps_serving_fp32_by_default_when_an_int8_version_is_newer(
    repo: Path, synth_data: Path
) -> None:
    assert run(repo, synth_data, "--max-drop", "100") == 0
    live = LiveRepository(RuntimeOptions(model_repo=repo, backend="onnxruntime"))
    live.load_all()
    repository = live.snapshot
    try:
        assert sorted(v.version for v in repository.loaded()) == [1, 2]
        default = repository.default_version("tiny")
        assert default is not None and (default.version, default.metadata.precision) == (1, FP32)
    finally:
        asyncio.run(repository.close())
