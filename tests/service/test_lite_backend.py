"""The MindSpore Lite backend against a TEST DOUBLE of mindspore_lite (the package cannot be installed here).

The double (fake_mindspore_lite.py) enforces the documented API contract and computes real outputs by
running the exported ONNX model, so these tests check that the backend drives the Lite API correctly.
They say nothing about behaviour on real Ascend hardware, where the backend has never run.
"""

import json
import sys
import threading
from pathlib import Path
from types import ModuleType

import fake_mindspore_lite
import httpx
import numpy as np
import onnxruntime as ort
import pytest
from service_helpers import encode_image, oracle_keypoints, random_image, response_keypoints

from core.geometry import box_to_center_scale
from core.model_repo import MINDIR_FILE, ONNX_FILE
from service.backends import BackendError
from service.backends.lite import LiteBackend

pytestmark = pytest.mark.slow


@pytest.fixture
def lite_double(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setitem(sys.modules, "mindspore_lite", fake_mindspore_lite)
    fake_mindspore_lite.built_models().clear()
    return fake_mindspore_lite


def onnx_reference(model_dir: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def random_batch(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((size, 64, 64, 3), dtype=np.float32)


def test_double_enforces_the_documented_contract(lite_double: ModuleType, tiny_model_repo: Path) -> None:
    model = lite_double.Model()
    model.build_from_file(str(tiny_model_repo / "tiny" / "1" / MINDIR_FILE), lite_double.ModelType.MINDIR)
    inputs = model.get_inputs()
    with pytest.raises(RuntimeError, match="data type not equal"):
        inputs[0].set_data_from_numpy(random_batch(1, 0).astype(np.float64))
    with pytest.raises(RuntimeError, match="data size not equal"):
        inputs[0].set_data_from_numpy(random_batch(2, 0))  # a new batch size without resize
    model.resize(inputs, [[2, 64, 64, 3]])
    with pytest.raises(RuntimeError, match="no input data"):
        model.predict(inputs)
    inputs[0].set_data_from_numpy(random_batch(2, 0))
    errors: list[Exception] = []

    def call() -> None:
        try:
            model.predict(inputs)
        except RuntimeError as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any("concurrently" in str(e) for e in errors)


def test_lite_backend_matches_the_network_and_resizes_only_on_new_batch_sizes(
    lite_double: ModuleType, tiny_model_repo: Path
) -> None:
    model_dir = tiny_model_repo / "tiny" / "1"
    backend = LiteBackend(model_dir / MINDIR_FILE, "ascend", 3, "enforce_fp32", 2)
    model = lite_double.built_models()[-1]
    assert model.context.target == ["ascend"]
    assert (model.context.ascend.device_id, model.context.ascend.precision_mode) == (3, "enforce_fp32")
    assert model.context.cpu.thread_num == 2

    for seed, size in enumerate([1, 3, 3, 2]):
        batch = random_batch(size, seed)
        np.testing.assert_allclose(backend.infer(batch), onnx_reference(model_dir, batch), atol=1e-6)
    assert model.resize_calls == [[[3, 64, 64, 3]], [[2, 64, 64, 3]]]


def test_lite_backend_serialises_concurrent_calls(lite_double: ModuleType, tiny_model_repo: Path) -> None:
    model_dir = tiny_model_repo / "tiny" / "1"
    backend = LiteBackend(model_dir / MINDIR_FILE, "ascend", 0, "enforce_fp32", 1)
    results: dict[int, np.ndarray] = {}

    def call(seed: int) -> None:
        results[seed] = backend.infer(random_batch(1 + seed % 3, seed))

    threads = [threading.Thread(target=call, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(8))
    for seed, output in results.items():
        expected = onnx_reference(model_dir, random_batch(1 + seed % 3, seed))
        np.testing.assert_allclose(output, expected, atol=1e-6)


def test_service_on_lite_backend_returns_the_network_keypoints(
    lite_double: ModuleType, serve, tiny_model_repo: Path
) -> None:
    url = serve(backend="lite", lite_target="ascend", max_wait_ms=50)
    pixels = random_image(100, 140, seed=11)
    boxes = [[10, 10, 90, 95], [50, 5, 135, 98]]

    def post(box: list[int]) -> httpx.Response:
        return httpx.post(
            f"{url}/v1/pose",
            files={"image": ("i.png", encode_image(pixels, "PNG"))},
            data={"persons": json.dumps([{"box": box}])},
            timeout=60,
        )

    responses: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda b=box: responses.append(post(b))) for box in boxes * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert httpx.get(f"{url}/v1/models").json()["models"][0]["versions"][0]["backend"] == "lite"
    for response in responses:
        body = response.json()
        assert body["model"]["backend"] == "lite"
        center, scale = box_to_center_scale(np.array(body["persons"][0]["box"]))
        expected = oracle_keypoints(tiny_model_repo / "tiny" / "1", pixels, center[None], np.array([scale]))
        np.testing.assert_allclose(response_keypoints(body)[0], expected.image_xy, atol=1e-4)


def test_lite_without_its_package_leaves_the_model_unavailable(
    monkeypatch: pytest.MonkeyPatch, serve
) -> None:
    monkeypatch.setitem(sys.modules, "mindspore_lite", None)  # makes `import mindspore_lite` fail
    with pytest.raises(BackendError, match="mindspore_lite package"):
        LiteBackend(Path("model.mindir"), "ascend", 0, "enforce_fp32", 1)
    url = serve(backend="lite")
    version = httpx.get(f"{url}/v1/models").json()["models"][0]["versions"][0]
    assert version["status"] == "unavailable"
    assert "MindSpore's release site" in version["reason"]
