"""The MindSpore backend (load + GraphCell) on the exported MINDIR, against the ONNX export of the net."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from helpers import post_pose
from service_helpers import encode_image, random_image

from core.model_repo import MINDIR_FILE, ONNX_FILE
from runtime.backends.mindspore import MindSporeBackend

pytestmark = pytest.mark.slow


def test_mindspore_backend_agrees_with_onnx_at_several_batch_sizes(tiny_model_repo: Path) -> None:
    model_dir = tiny_model_repo / "tiny" / "1"
    backend = MindSporeBackend(model_dir / MINDIR_FILE, "CPU")
    session = ort.InferenceSession(str(model_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    for size in (1, 3):
        batch = np.random.default_rng(size).random((size, 64, 64, 3), dtype=np.float32)
        expected = session.run(None, {session.get_inputs()[0].name: batch})[0]
        output = backend.infer(batch)
        assert output.shape == (size, 2, 16, 16, 16)
        np.testing.assert_allclose(output, expected, atol=1e-4)
    backend.close()


def test_service_serves_on_the_mindspore_backend(serve) -> None:
    url = serve(backend="mindspore")
    response = post_pose(url, encode_image(random_image(64, 64, seed=1), "PNG"), [{"box": [4, 4, 60, 60]}])
    assert response.status_code == 200, response.text
    assert response.json()["model"]["backend"] == "mindspore"
    assert len(response.json()["persons"][0]["keypoints"]) == 16
