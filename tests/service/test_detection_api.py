"""POST /v1/pose without persons: the shipped person detector finds them, then the pose model runs on each.

The repository holds the tiny test pose model and a copy of the shipped detector, so the detections are real
(YOLOX-Nano on real MPII photographs) while the pose step stays fast.
"""

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import MPII_ANNOTATIONS, MPII_IMAGES, post_pose
from PIL import Image
from service_helpers import repo_with_detector, serve_app

from core.box_metrics import box_iou
from core.model_repo import ONNX_FILE
from core.mpii import read_annotations
from service.settings import Settings

pytestmark = pytest.mark.slow

ANNOTATIONS = read_annotations(MPII_ANNOTATIONS).subset(5)
# The annotated person of entry 1 and its image (two more people stand in it, unannotated).
ENTRY = 1
IMAGE = (MPII_IMAGES / ANNOTATIONS.imgname[ENTRY]).read_bytes()


@pytest.fixture(scope="module")
def detecting_url(tiny_model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    repo = repo_with_detector(tiny_model_repo, tmp_path_factory.mktemp("repo") / "repo")
    with serve_app(Settings(model_repo=repo, backend="onnxruntime")) as served:
        yield served.url


def detect(url: str, **fields: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/pose", files={"image": ("photo.jpg", IMAGE)}, data=fields, timeout=120)


def test_without_persons_the_detector_finds_the_annotated_person_and_each_gets_a_pose(
    detecting_url: str,
) -> None:
    response = detect(detecting_url)
    assert response.status_code == 200, response.text
    body = response.json()
    persons = body["persons"]
    assert persons, "nobody found"
    joints_box = ANNOTATIONS.joint_boxes()[ENTRY]
    boxes = np.array([p["box"] for p in persons])
    assert box_iou(joints_box[None], boxes).max() >= 0.5
    scores = [p["score"] for p in persons]
    assert all(0 < s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    width, height = body["image"]["width"], body["image"]["height"]
    assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= width).all() and (boxes[:, [1, 3]] <= height).all()
    assert all(len(p["keypoints"]) == 16 for p in persons)
    assert {"detection", "detect_inference", "inference"} <= set(body["timing_ms"])


def test_detection_options_per_request(detecting_url: str) -> None:
    everyone = detect(detecting_url).json()["persons"]
    assert len(everyone) >= 2
    best = detect(detecting_url, detect_max_persons="1").json()["persons"]
    assert [p["box"] for p in best] == [everyone[0]["box"]]
    strict = detect(detecting_url, detect_score_threshold=str(everyone[0]["score"] + 1e-3))
    assert strict.status_code == 200 and strict.json()["persons"] == []
    only_large = detect(detecting_url, detect_min_size="400").json()["persons"]
    sides = [min(p["box"][2] - p["box"][0], p["box"][3] - p["box"][1]) for p in only_large]
    assert all(side >= 400 for side in sides) and len(only_large) < len(everyone)


def test_given_persons_are_used_as_before_and_detect_conflicts_with_them(detecting_url: str) -> None:
    box = [780.0, 60.0, 1180.0, 720.0]
    given = post_pose(detecting_url, IMAGE, [{"box": box}])
    assert given.status_code == 200
    assert [(p["box"], p["score"]) for p in given.json()["persons"]] == [(box, None)]
    both = post_pose(detecting_url, IMAGE, [{"box": box}], detect="true")
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    nobody = detect(detecting_url, detect="false")
    assert nobody.status_code == 422 and "give persons" in nobody.json()["detail"]


def test_render_png_draws_what_the_detector_found(detecting_url: str) -> None:
    response = httpx.post(
        f"{detecting_url}/v1/pose?render=png", files={"image": ("p.jpg", IMAGE)}, timeout=120
    )
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    drawn = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    original = np.asarray(Image.open(io.BytesIO(IMAGE)).convert("RGB"))
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original.astype(int)).max() > 100  # boxes and skeletons are drawn


def test_models_lists_each_model_with_its_kind(detecting_url: str) -> None:
    models = {m["name"]: m for m in httpx.get(f"{detecting_url}/v1/models").json()["models"]}
    assert models["tiny"]["kind"] == "pose"
    detector = models["person_detector"]
    assert detector["kind"] == "detector" and detector["default_version"] == 1
    assert detector["versions"][0]["input_size"] == [416, 416]
    assert detector["versions"][0]["heatmap_size"] is None


def test_a_pose_request_naming_a_detector_as_its_model_is_refused(detecting_url: str) -> None:
    response = post_pose(detecting_url, IMAGE, [{"box": [1, 1, 200, 200]}], model="person_detector")
    assert response.status_code == 422 and "not a pose model" in response.json()["detail"]
    wrong = detect(detecting_url, detector="tiny")
    assert wrong.status_code == 422 and "not a detector model" in wrong.json()["detail"]


def test_a_broken_detector_is_unavailable_while_the_pose_model_keeps_serving(
    tiny_model_repo: Path, tmp_path: Path, serve
) -> None:
    repo = repo_with_detector(tiny_model_repo, tmp_path / "repo")
    model_file = repo / "person_detector" / "1" / ONNX_FILE
    model_file.write_bytes(model_file.read_bytes()[:-10] + b"0123456789")  # same size, fails its sha256
    url = serve(repo)
    detector = next(
        m for m in httpx.get(f"{url}/v1/models").json()["models"] if m["name"] == "person_detector"
    )
    assert detector["versions"][0]["status"] == "unavailable"
    assert "sha256" in detector["versions"][0]["reason"]
    assert post_pose(url, IMAGE, [{"box": [780, 60, 1180, 720]}]).status_code == 200
    refused = detect(url)
    assert refused.status_code == 422
    assert "no person detector is ready" in refused.json()["detail"]
    assert json.loads(refused.text)["request_id"]


def test_detect_returns_the_boxes_pose_would_estimate_in_either_form(detecting_url: str) -> None:
    posed = detect(detecting_url, detect_max_persons="2").json()["persons"]
    found = httpx.post(
        f"{detecting_url}/v1/detect", files={"image": ("p.jpg", IMAGE)}, data={"detect_max_persons": "2"}
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["model"]["name"] == "person_detector"
    assert [(p["box"], p["score"]) for p in body["persons"]] == [(p["box"], p["score"]) for p in posed]
    as_json = httpx.post(
        f"{detecting_url}/v1/detect",
        json={"image_base64": base64.b64encode(IMAGE).decode(), "detect_max_persons": 2},
        timeout=60,
    )
    assert as_json.json()["persons"] == body["persons"]
    with_persons = httpx.post(
        f"{detecting_url}/v1/detect", files={"image": ("p.jpg", IMAGE)}, data={"persons": "[]"}
    )
    assert with_persons.status_code == 422 and "persons" in with_persons.json()["detail"]
