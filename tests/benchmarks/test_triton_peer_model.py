"""The Triton peer (benchmarks/triton_peer_model.py) computes what the service computes, so that
benchmarks/triton_peer.py compares two servers of one pipeline.

The peer runs inside Triton's Python backend, whose module `triton_python_backend_utils` exists only
there: `TritonBackendDouble` stands in for it here with the few names the peer uses (tensors in and out,
responses, errors). The peer is configured as the benchmark configures it (`peer_model`, from the
service's settings) and answers the same request as the service's own app, on the shipped fp32 version
with onnxruntime and the int8 version with OpenVINO.
"""

import importlib
import json
import shutil
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers import MPII_IMAGES, REPO_ROOT

from service.app import create_app
from service.settings import Settings

SHIPPED = REPO_ROOT / "model_repo" / "hourglass"
IMAGE = MPII_IMAGES / "005808361.jpg"
BOX = [780.0, 60.0, 1180.0, 720.0]


@dataclass
class Tensor:
    name: str
    array: np.ndarray

    def as_numpy(self) -> np.ndarray:
        return self.array


@dataclass
class Response:
    output_tensors: list[Tensor] = field(default_factory=list)
    error: str | None = None

    def output(self, name: str) -> np.ndarray:
        (tensor,) = [t for t in self.output_tensors if t.name == name]
        return tensor.array


def triton_backend_double() -> types.ModuleType:
    """The part of Triton's `triton_python_backend_utils` the peer uses; a request is a dict of Tensors."""
    module = types.ModuleType("triton_python_backend_utils")
    module.Tensor = Tensor  # type: ignore[attr-defined]
    module.InferenceResponse = Response  # type: ignore[attr-defined]
    module.TritonError = str  # type: ignore[attr-defined]
    module.get_input_tensor_by_name = lambda request, name: request.get(name)  # type: ignore[attr-defined]
    return module


@pytest.fixture(scope="module")
def benchmarks() -> Iterator[tuple[Any, Any]]:
    """The peer's model module and the benchmark (for its configuration), imported with the double."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "triton_python_backend_utils", triton_backend_double())
        patch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
        yield importlib.import_module("triton_peer_model"), importlib.import_module("triton_peer")


def started_peer(benchmarks: tuple[Any, Any], version_dir: Path, settings: Settings) -> Any:
    peer_module, harness = benchmarks
    options = settings.runtime_options()
    configuration = harness.peer_model("hourglass", int(version_dir.name), version_dir, options, 1)
    parameters = {key: {"string_value": value} for key, value in configuration.parameters.items()}
    peer = peer_module.TritonPythonModel()
    peer.initialize({"model_config": json.dumps({"parameters": parameters})})
    return peer


def peer_request(image: bytes, boxes: list[list[float]] | None, flip: bool) -> dict[str, Tensor]:
    """A request as Triton's batcher hands it over: a leading batch dimension of 1."""
    request = {
        "IMAGE": Tensor("IMAGE", np.array([[image]], dtype=np.object_)),
        "FLIP": Tensor("FLIP", np.array([[flip]])),
    }
    if boxes is not None:
        request["BOXES"] = Tensor("BOXES", np.array([boxes], np.float32))
    return request


@pytest.mark.parametrize(("backend", "version"), [("onnxruntime", 6), ("openvino", 7)])
@pytest.mark.parametrize("flip", [True, False])
def test_the_peer_answers_as_the_service(benchmarks, tmp_path, backend, version, flip):
    repo = tmp_path / "repo"
    shutil.copytree(SHIPPED / str(version), repo / "hourglass" / str(version))
    settings = Settings(model_repo=repo, backend=backend)
    image = IMAGE.read_bytes()
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/pose",
            files={"image": (IMAGE.name, image, "image/jpeg")},
            data={"persons": json.dumps([{"box": BOX}]), "flip": str(flip).lower()},
        )
    assert response.status_code == 200, response.text
    (person,) = response.json()["persons"]
    ours = np.array([[k["x"], k["y"], k["score"]] for k in person["keypoints"]])

    peer = started_peer(benchmarks, repo / "hourglass" / str(version), settings)
    (answer,) = peer.execute([peer_request(image, [BOX], flip)])
    peer.finalize()
    assert answer.error is None
    assert answer.output("KEYPOINTS").shape == (1, 1, 16, 3)
    np.testing.assert_allclose(answer.output("KEYPOINTS")[0, 0], ours, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(answer.output("PERSON_BOXES"), [[BOX]])


def test_the_peer_batches_requests_takes_the_whole_image_without_boxes_and_refuses_bad_images(benchmarks):
    settings = Settings(model_repo=REPO_ROOT / "model_repo", backend="onnxruntime")
    peer = started_peer(benchmarks, SHIPPED / "6", settings)
    image = IMAGE.read_bytes()
    requests = [
        peer_request(image, [BOX, BOX], True),
        peer_request(b"not an image", [BOX], True),
        peer_request(image, None, False),
    ]
    two_persons, refused, whole_image = peer.execute(requests)
    peer.finalize()
    first, second = two_persons.output("KEYPOINTS")[0]
    np.testing.assert_array_equal(first, second)
    assert refused.error is not None and "cannot be decoded" in refused.error
    np.testing.assert_array_equal(whole_image.output("PERSON_BOXES"), [[[0, 0, 1280, 720]]])
    assert whole_image.output("KEYPOINTS").shape == (1, 1, 16, 3)
