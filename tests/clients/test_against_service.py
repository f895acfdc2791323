"""The clients against the real service (`running_service`: `python -m service` on a tiny exported model)."""

import base64
import json

import cv2
import httpx
import numpy as np
import pytest

from clients import eval_mpii, pose
from core.joints import JOINT_NAMES
from core.mpii import read_annotations, read_predictions

pytestmark = pytest.mark.slow


def mpii_args(mpii_dir, out, url, *extra: str) -> list[str]:
    return [
        "--annot", str(mpii_dir / "annot" / "valid.h5"), "--images", str(mpii_dir / "images"),
        "--url", url, "--out", str(out), *extra,
    ]  # fmt: skip


def test_eval_mpii_matches_direct_requests_and_counts_missing_images(mpii_dir, running_service, tmp_path):
    assert eval_mpii.main(mpii_args(mpii_dir, tmp_path, running_service, "--limit", "7")) == eval_mpii.EXIT_OK

    preds = read_predictions(tmp_path / eval_mpii.PREDICTIONS_FILE)
    assert preds.shape == (7, 16, 2)
    assert np.isfinite(preds[:5]).all() and np.isnan(preds[5:]).all()
    annotations = read_annotations(mpii_dir / "annot" / "valid.h5").subset(5)
    for entry in range(5):
        image = (mpii_dir / "images" / annotations.imgname[entry]).read_bytes()
        person = {"center": annotations.center[entry].tolist(), "scale": float(annotations.scale[entry])}
        body = {"image_base64": base64.b64encode(image).decode(), "persons": [person], "flip": True}
        answer = httpx.post(f"{running_service}/v1/pose", json=body, timeout=60).json()
        by_name = {k["name"]: (k["x"], k["y"]) for k in answer["persons"][0]["keypoints"]}
        np.testing.assert_allclose(preds[entry], [by_name[name] for name in JOINT_NAMES], atol=1e-4)
    result = (tmp_path / eval_mpii.RESULT_FILE).read_text()
    assert "served by: tiny:1" in result
    assert "with predictions (scored): 5; image missing (not scored, see missing_images.txt): 2" in result
    assert "Val PCK @, 0.5 , total" in result and "Official MPII PCKh@0.5" in result

    assert eval_mpii.main(mpii_args(mpii_dir, tmp_path, running_service, "--limit", "7")) == eval_mpii.EXIT_OK
    assert "this run: 0 persons" in (tmp_path / eval_mpii.RESULT_FILE).read_text()


def test_eval_mpii_without_the_api_key_aborts(mpii_dir, tiny_model_repo, launch_service, tmp_path):
    with launch_service(tiny_model_repo, env={"HGPOSE_API_KEY": "sesame"}) as service:
        refused = eval_mpii.main(mpii_args(mpii_dir, tmp_path / "a", service.url, "--limit", "2"))
        accepted = eval_mpii.main(
            mpii_args(mpii_dir, tmp_path / "b", service.url, "--limit", "2", "--api-key", "sesame")
        )
    assert refused == eval_mpii.EXIT_ABORTED
    assert "HTTP 401" in (tmp_path / "a" / eval_mpii.RESULT_FILE).read_text()
    assert accepted == eval_mpii.EXIT_OK


def test_pose_cli_prints_and_draws_the_services_answer(mpii_dir, running_service, tmp_path, capsys):
    image = mpii_dir / "images" / "005808361.jpg"
    out = tmp_path / "drawn.png"
    code = pose.main([str(image), "--box", "800,150,1130,700", "--url", running_service, "--draw", str(out)])

    assert code == pose.EXIT_OK
    body = json.loads(capsys.readouterr().out)
    assert body["model"]["name"] == "tiny"
    assert [k["name"] for k in body["persons"][0]["keypoints"]] == list(JOINT_NAMES)
    original, drawn = cv2.imread(str(image)), cv2.imread(str(out))
    assert drawn.shape == original.shape
    changed = np.argwhere((drawn != original).any(axis=2))
    # Keypoints fall inside the crop square; the box outline and score labels stay near it.
    (cx, cy), half = body["persons"][0]["center"], 100 * body["persons"][0]["scale"]
    x1, y1, x2, y2 = cx - half, cy - half, cx + half, cy + half
    assert len(changed)
    assert changed[:, 1].min() >= int(x1) - 10 and changed[:, 1].max() <= int(x2) + 40
    assert changed[:, 0].min() >= int(y1) - 25 and changed[:, 0].max() <= int(y2) + 10
