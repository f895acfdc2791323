"""Person detectors on the Lite backend, target ascend, on the TEST DOUBLE of mindspore_lite
(lite_api_double/), end to end through POST /v1/pose without persons and through
`python -m runtime.backends.check`: the shipped YOLOX-Nano with a fixed-batch MINDIR (batch 1, no
declaration) and a synthetic detector with a dynamic batch, run at its declared gears with padding. Every
answer must equal onnxruntime's."""

import shutil
import threading
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pytest
from helpers import MPII_IMAGES
from lite_detectors import (
    DETECTOR_INPUT,
    SYNTHETIC_BOXES,
    SYNTHETIC_SIZE,
    shipped_detector_for_lite,
    synthetic_dynamic_detector,
)
from service_helpers import encode_image, padded_crops_of

from runtime.backends import check

pytestmark = pytest.mark.slow

PHOTO = "005808361.jpg"  # two people, and a third cut off by the left edge


def pose_without_persons(url: str, image: bytes, **fields: str) -> dict:
    response = httpx.post(f"{url}/v1/pose", files={"image": ("photo", image)}, data=fields, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def assert_same_persons(got: dict, want: dict) -> None:
    assert len(got["persons"]) == len(want["persons"]) > 0
    for person, expected in zip(got["persons"], want["persons"], strict=True):
        np.testing.assert_allclose(person["box"], expected["box"], atol=1e-3)
        assert person["score"] == pytest.approx(expected["score"], abs=1e-5)
        np.testing.assert_allclose(
            [(k["x"], k["y"]) for k in person["keypoints"]],
            [(k["x"], k["y"]) for k in expected["keypoints"]],
            atol=1e-3,
        )


def built_for_ascend(double: ModuleType, sample_shape: list[int]) -> object:
    """The Lite model the backend built on ascend for the input of `sample_shape` (C, H, W)."""
    (model,) = [
        m
        for m in double.built_models()
        if m.context.target == ["ascend"] and m.get_inputs()[0].shape[1:] == sample_shape
    ]
    return model


@pytest.fixture
def shipped_repo(tiny_model_repo: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(tiny_model_repo, repo)
    shipped_detector_for_lite(repo, tmp_path)
    return repo


def test_the_shipped_detector_on_ascend_finds_the_persons_as_onnxruntime_does(
    lite_double: ModuleType, serve, shipped_repo: Path
) -> None:
    image = (MPII_IMAGES / PHOTO).read_bytes()
    url = serve(shipped_repo, backend="lite", lite_target="ascend")
    detector = built_for_ascend(lite_double, [3, 416, 416])
    assert detector.config_dict == {}  # a fixed batch needs no declaration
    assert detector.get_inputs()[0].name == DETECTOR_INPUT

    answer = pose_without_persons(url, image)
    assert answer["model"]["backend"] == "lite"
    models = {m["name"]: m for m in httpx.get(f"{url}/v1/models").json()["models"]}
    assert models["person_detector"]["versions"][0]["backend"] == "lite"
    assert len(answer["persons"]) == 3
    reference = pose_without_persons(serve(shipped_repo, backend="onnxruntime"), image)
    assert_same_persons(answer, reference)
    assert detector.resize_calls == [] and detector.predict_calls == 2  # warm-up and the request, unresized


def test_a_dynamic_batch_detector_runs_at_its_gears_with_padding(
    lite_double: ModuleType, serve, tiny_model_repo: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(tiny_model_repo, repo)
    synthetic_dynamic_detector(repo)
    rng = np.random.default_rng(3)
    # three images of different brightness, so that each answer can only be its own image's; red is darker,
    # so the box scored by the whole image comes first
    images = []
    for level in (130, 170, 210):
        pixels = rng.normal(level, 20, (90, 120, 3)) - [40, 0, 0]
        images.append(encode_image(np.clip(pixels, 0, 255).astype(np.uint8), "PNG"))
    # an image holds a decode slot until its persons are found: three slots let three reach the detector
    settings = {"lite_batch_gears": "1,4", "max_batch": 8, "max_wait_ms": 1000, "max_concurrent_decodes": 3}
    url = serve(repo, backend="lite", lite_target="ascend", **settings)
    detector = built_for_ascend(lite_double, [3, SYNTHETIC_SIZE, SYNTHETIC_SIZE])
    assert detector.config_dict == {
        "ascend_context": {
            "input_shape": f"{DETECTOR_INPUT}:[-1,3,{SYNTHETIC_SIZE},{SYNTHETIC_SIZE}]",
            "dynamic_dims": "[1],[2],[4]",
        }
    }
    warmed_up = detector.predict_calls  # every gear once, the largest last
    answers: dict[int, dict] = {}

    def call(index: int) -> None:
        answers[index] = pose_without_persons(url, images[index], flip="false")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # the three images went as one batch of three, padded to the gear of four
    assert detector.predict_calls == warmed_up + 1
    assert detector.get_inputs()[0].shape[0] == 4
    assert padded_crops_of(url, "tiny_detector:1") == 1
    reference_url = serve(repo, backend="onnxruntime")
    for index, image in enumerate(images):
        answer = answers[index]
        stretched = SYNTHETIC_BOXES * np.tile([120 / SYNTHETIC_SIZE, 90 / SYNTHETIC_SIZE], 2)
        np.testing.assert_allclose([p["box"] for p in answer["persons"]], stretched, atol=1e-3)
        assert_same_persons(answer, pose_without_persons(reference_url, image, flip="false"))
    scores = [answers[i]["persons"][0]["score"] for i in range(3)]
    assert scores == sorted(scores) and scores[0] < scores[-1] - 0.2


def test_check_judges_detectors_at_every_gear(
    lite_double: ModuleType, shipped_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synthetic_dynamic_detector(shipped_repo)
    status = check.main(
        ["--model-repo", str(shipped_repo), "--backend", "lite", "--target", "ascend", "--gears", "1,4"]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "person_detector:1 on lite: judged on outputs and person boxes" in out
    assert "tiny_detector:1 on lite: judged on outputs and person boxes" in out
    assert "tiny:1 on lite: judged on heatmaps" in out
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(" ok")]
    detector_rows = [row for row in rows if "/" in row[2]]
    # the shipped detector runs its one batch size over the five photographs (8 persons), the synthetic one
    # every declared gear
    assert [row[0] for row in detector_rows] == ["1", "1", "2", "4"]
    assert detector_rows[0][2] == "8/8"
    assert out.strip().endswith("PASS")


def test_check_reports_a_detector_whose_boxes_move(
    shipped_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class ShiftedBoxes:
        """A wrong backend: onnxruntime's answer with every anchor's x offset moved by a tenth of a cell."""

        name = "wrong"

        def __init__(self, inner: object) -> None:
            self.inner = inner
            self.batch_sizes = inner.batch_sizes

        def infer(self, batch: np.ndarray) -> np.ndarray:
            output = self.inner.infer(batch).copy()
            output[..., 0] += 0.1
            return output

        def close(self) -> None:
            self.inner.close()

    shutil.rmtree(shipped_repo / "tiny")
    real_create = check.create_backend
    monkeypatch.setattr(check, "create_backend", lambda *args: ShiftedBoxes(real_create(*args)))
    argv = ["--model-repo", str(shipped_repo), "--backend", "onnxruntime", "--output-tolerance", "1"]
    status = check.main(argv)
    out = capsys.readouterr().out
    assert status == check.EXIT_MISMATCH
    (row,) = [line.split() for line in out.splitlines() if "MISMATCH" in line]
    assert row[2] == "8/8" and float(row[3]) > 2.0  # the default --box-tolerance
