"""The OpenVINO backend on the exported ONNX and on an OpenVINO IR beside it, against onnxruntime."""

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import openvino as ov
import pytest
from service_helpers import encode_image, random_image

from core.model_repo import (
    METADATA_FILE,
    ONNX_FILE,
    OPENVINO_IR_FILE,
    OPENVINO_WEIGHTS_FILE,
    describe_file,
)
from runtime.backends import BackendError, backend_spec, create_backend
from runtime.backends.cpu_isa import ONEDNN_ISA_VARIABLE
from runtime.backends.openvino import OpenVinoBackend
from runtime.options import OpenVinoOptions, RuntimeOptions

pytestmark = pytest.mark.slow

IMAGE = encode_image(random_image(80, 80, seed=5), "PNG")
PERSONS = json.dumps([{"box": [5, 5, 70, 75]}])


def onnxruntime_output(model_dir: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def with_ir(source: Path, target: Path, list_in_metadata: bool = True) -> Path:
    """A copy of a version with an OpenVINO IR converted from its ONNX written beside it."""
    shutil.copytree(source, target)
    ov.save_model(ov.convert_model(str(target / ONNX_FILE)), str(target / OPENVINO_IR_FILE), False)
    if list_in_metadata:
        metadata = json.loads((target / METADATA_FILE).read_text())
        for name in (OPENVINO_IR_FILE, OPENVINO_WEIGHTS_FILE):
            described = describe_file(target / name)
            metadata["files"][name] = {"sha256": described.sha256, "bytes": described.bytes}
        (target / METADATA_FILE).write_text(json.dumps(metadata))
    return target


def test_answers_match_onnxruntime_at_several_batch_sizes(tiny_model_repo: Path) -> None:
    model_dir = tiny_model_repo / "tiny" / "1"
    backend = create_backend("openvino", model_dir, RuntimeOptions(backend="openvino"))
    assert isinstance(backend, OpenVinoBackend) and backend.model_file == ONNX_FILE
    assert backend.devices == ["CPU"]
    for size in (1, 3, 2):
        batch = np.random.default_rng(size).random((size, 64, 64, 3), dtype=np.float32)
        output = backend.infer(batch)
        assert output.shape == (size, 2, 16, 16, 16)
        np.testing.assert_allclose(output, onnxruntime_output(model_dir, batch), atol=1e-4)
    backend.close()


def test_an_ir_beside_the_onnx_is_served_and_agrees(tiny_model_repo: Path, tmp_path: Path) -> None:
    model_dir = with_ir(tiny_model_repo / "tiny" / "1", tmp_path / "tiny" / "1")
    assert backend_spec("openvino").model_file(model_dir) == OPENVINO_IR_FILE
    backend = create_backend("openvino", model_dir, RuntimeOptions(backend="openvino"))
    assert isinstance(backend, OpenVinoBackend) and backend.model_file == OPENVINO_IR_FILE
    batch = np.random.default_rng(7).random((2, 64, 64, 3), dtype=np.float32)
    np.testing.assert_allclose(backend.infer(batch), onnxruntime_output(model_dir, batch), atol=1e-4)
    backend.close()


def test_an_unreadable_model_is_a_backend_error(tmp_path: Path) -> None:
    broken = tmp_path / ONNX_FILE
    broken.write_bytes(b"not a model")
    with pytest.raises(BackendError, match=f"OpenVINO cannot compile {ONNX_FILE}"):
        OpenVinoBackend(broken, OpenVinoOptions(threads=1))


def test_service_on_openvino_reports_backend_precision_and_devices(serve, tiny_model_repo: Path) -> None:
    url = serve(backend="openvino", openvino_threads=1)
    response = httpx.post(
        f"{url}/v1/pose", files={"image": ("i.png", IMAGE)}, data={"persons": PERSONS}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.json()["model"] == {
        "name": "tiny",
        "version": 1,
        "backend": "openvino",
        "precision": "fp32",
    }
    version = httpx.get(f"{url}/v1/models").json()["models"][0]["versions"][0]
    assert version["status"] == "ready"
    assert (version["backend"], version["devices"], version["model_file"]) == ("openvino", ["CPU"], ONNX_FILE)
    assert (version["precision"], version["source_version"]) == ("fp32", None)


def test_an_ir_not_in_the_metadata_or_with_bad_weights_makes_the_version_unavailable(
    serve, tiny_model_repo: Path, tmp_path: Path
) -> None:
    source = tiny_model_repo / "tiny" / "1"
    with_ir(source, tmp_path / "repo" / "tiny" / "1", list_in_metadata=False)
    damaged = with_ir(source, tmp_path / "repo" / "tiny" / "2")
    metadata = json.loads((damaged / METADATA_FILE).read_text())
    (damaged / METADATA_FILE).write_text(json.dumps({**metadata, "version": 2}))
    weights = bytearray((damaged / OPENVINO_WEIGHTS_FILE).read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (damaged / OPENVINO_WEIGHTS_FILE).write_bytes(bytes(weights))

    url = serve(repo=tmp_path / "repo", backend="openvino")
    versions = {v["version"]: v for v in httpx.get(f"{url}/v1/models").json()["models"][0]["versions"]}
    assert versions[1]["status"] == "unavailable"
    assert f"{OPENVINO_IR_FILE} is not listed" in versions[1]["reason"]
    assert versions[2]["status"] == "unavailable"
    assert f"{OPENVINO_WEIGHTS_FILE} fails its sha256 checksum" in versions[2]["reason"]
    assert versions[1]["devices"] is None


def test_an_isa_cap_in_the_environment_is_logged(
    tiny_model_repo: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model_file = tiny_model_repo / "tiny" / "1" / ONNX_FILE
    monkeypatch.delenv(ONEDNN_ISA_VARIABLE, raising=False)
    OpenVinoBackend(model_file, OpenVinoOptions(threads=1)).close()
    assert not [r for r in caplog.records if ONEDNN_ISA_VARIABLE in r.getMessage()]
    monkeypatch.setenv(ONEDNN_ISA_VARIABLE, "AVX2")
    OpenVinoBackend(model_file, OpenVinoOptions(threads=1)).close()
    warnings = [r for r in caplog.records if ONEDNN_ISA_VARIABLE in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "mindspore backend only" in warnings[0].getMessage()


def test_the_service_process_leaves_openvino_uncapped(
    launch_service, tiny_model_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oneDNN cap is MindSpore's: `python -m service --backend openvino` must not set it for itself
    (it did, and int8 ran 3x slower than bare OpenVINO); a cap the user sets shows in the log."""
    monkeypatch.delenv(ONEDNN_ISA_VARIABLE, raising=False)
    for env, capped in (({}, False), ({ONEDNN_ISA_VARIABLE: "AVX2"}, True)):
        with launch_service(tiny_model_repo, env=env, backend="openvino") as svc:
            version = httpx.get(f"{svc.url}/v1/models").json()["models"][0]["versions"][0]
            assert version["status"] == "ready"
            assert "ready on openvino" in svc.log()
            assert (f"{ONEDNN_ISA_VARIABLE}=AVX2 is set" in svc.log()) is capped
