"""The clients without persons against the real service, in a thread, on the tiny pose model and the shipped
person detector: the detections are YOLOX-Nano's on the real MPII sample photographs."""

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import MPII_ANNOTATIONS, MPII_IMAGES, REPO_ROOT, app_in_thread

from clients import eval_mpii, pose
from core.box_metrics import box_iou
from core.joints import JOINT_NAMES
from core.mpii import read_annotations, read_predictions
from service.app import create_app
from service.server import server_options
from service.settings import Settings

pytestmark = pytest.mark.slow

DETECTOR = REPO_ROOT / "model_repo" / "person_detector" / "1"
SAMPLE = 5


@pytest.fixture(scope="module")
def detecting_url(tiny_model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    repo = tmp_path_factory.mktemp("repo") / "repo"
    shutil.copytree(tiny_model_repo, repo)
    shutil.copytree(DETECTOR, repo / "person_detector" / "1")
    settings = Settings(model_repo=repo, backend="onnxruntime")
    app = create_app(settings)
    with app_in_thread(app, log_config=None, access_log=False, **server_options(settings)) as served:
        yield served.url


def detected(url: str, imgname: str) -> list[dict]:
    image = base64.b64encode((MPII_IMAGES / imgname).read_bytes()).decode()
    response = httpx.post(f"{url}/v1/pose", json={"image_base64": image}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()["persons"]


def test_eval_mpii_detect_finds_the_sample_persons_and_scores_the_detected_poses(detecting_url, tmp_path):
    argv = ["--annot", str(MPII_ANNOTATIONS), "--images", str(MPII_IMAGES), "--url", detecting_url]
    assert eval_mpii.main([*argv, "--out", str(tmp_path), "--limit", str(SAMPLE), "--detect"]) == 0

    result = (tmp_path / eval_mpii.RESULT_FILE).read_text()
    assert "found 5 of 5 annotated persons (100.0%)" in result
    preds = read_predictions(tmp_path / eval_mpii.PREDICTIONS_FILE)
    annotations = read_annotations(MPII_ANNOTATIONS).subset(SAMPLE)
    joint_boxes = annotations.joint_boxes()
    for entry in range(SAMPLE):
        persons = detected(detecting_url, annotations.imgname[entry])
        # the person whose box overlaps the annotated joints most is the one the evaluation scored
        boxes = np.array([p["box"] for p in persons]) + 1.0
        best = persons[int(np.argmax(box_iou(joint_boxes[entry][None], boxes)[0]))]
        by_name = {k["name"]: (k["x"], k["y"]) for k in best["keypoints"]}
        np.testing.assert_allclose(preds[entry], [by_name[name] for name in JOINT_NAMES], atol=1e-4)


def test_pose_cli_without_boxes_lists_and_draws_the_three_people_of_a_photo(detecting_url, tmp_path, capsys):
    image = MPII_IMAGES / "005808361.jpg"  # two people, and a third cut off by the left edge
    out = tmp_path / "drawn.png"
    assert pose.main([str(image), "--url", detecting_url, "--draw", str(out)]) == pose.EXIT_OK

    captured = capsys.readouterr()
    body = json.loads(captured.out)
    scores = [p["score"] for p in body["persons"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and min(scores) >= 0.3
    assert "the detector found 3 person(s)" in captured.err
    for index, person in enumerate(body["persons"], 1):
        assert f"person {index}: box [" in captured.err
        assert f"detection score {person['score']:.2f}" in captured.err
    assert out.stat().st_size > 0
