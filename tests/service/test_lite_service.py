"""The service on the Lite backend through the real batcher and HTTP, and `python -m runtime.backends.check`,
both on the TEST DOUBLE of mindspore_lite (lite_api_double/): what could be checked without an NPU or a
GPU."""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pytest
from helpers import REPO_ROOT, post_pose
from service_helpers import (
    LITE_DOUBLE_DIR,
    encode_image,
    oracle_keypoints,
    padded_crops_of,
    random_image,
    response_keypoints,
)

from core.geometry import box_to_center_scale
from core.model_repo import MINDIR_FILE
from runtime.backends import check

pytestmark = pytest.mark.slow

GEARS = (1, 2, 4)


def person_boxes(count: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 60, size=(count, 2))
    sizes = rng.integers(30, 70, size=(count, 2))
    return [[int(x), int(y), int(x + w), int(y + h)] for (x, y), (w, h) in zip(corners, sizes, strict=True)]


@pytest.mark.parametrize("target", ["ascend", "gpu", "cpu"])
def test_service_on_lite_answers_like_onnxruntime(
    lite_double: ModuleType, serve, tiny_model_repo: Path, target: str
) -> None:
    url = serve(backend="lite", lite_target=target, lite_batch_gears="1,4", max_batch=8, max_wait_ms=50)
    models = lite_double.built_models()
    served = models[-1]
    assert served.context.target == [target]
    # warmed up before the service answered: every gear once (one crop on the cpu target, which takes any)
    warm_up = [1] if target == "cpu" else [1, 2, 4]
    assert [call[0][0] for call in served.resize_calls] == warm_up
    assert served.predict_calls == len(warm_up)
    pixels = random_image(130, 140, seed=5)
    image = encode_image(pixels, "PNG")

    # three persons without flip: one batch of 3 crops, padded to gear 4 on ascend and gpu
    single = post_pose(url, image, [{"box": b} for b in person_boxes(3, 0)], timeout=120, flip="false")
    assert single.status_code == 200, single.text
    assert padded_crops_of(url, "tiny:1") == (0 if target == "cpu" else 1)

    cases = [(count, flip) for count in range(1, 6) for flip in (True, False)]
    responses: dict[tuple[int, bool], httpx.Response] = {}

    def call(count: int, flip: bool) -> None:
        boxes = [{"box": b} for b in person_boxes(count, count)]
        responses[count, flip] = post_pose(url, image, boxes, timeout=120, flip=json.dumps(flip))

    threads = [threading.Thread(target=call, args=case) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for (count, flip), response in responses.items():
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"]["backend"] == "lite"
        boxes = np.array([person["box"] for person in body["persons"]])
        assert len(boxes) == count
        centers_scales = [box_to_center_scale(box) for box in boxes]
        centers = np.array([c for c, _ in centers_scales])
        scales = np.array([s for _, s in centers_scales])
        expected = oracle_keypoints(tiny_model_repo / "tiny" / "1", pixels, centers, scales, flip=flip)
        np.testing.assert_allclose(response_keypoints(body)[0], expected.image_xy, atol=1e-3)

    batches = {call[0][0] for call in served.resize_calls}
    if target == "cpu":
        assert batches <= set(range(1, 9))
    else:
        assert batches <= {1, 2, 4}  # only declared gears ever reached Lite (2 is always added)
        assert max(batches) == 4  # batches were capped at the largest gear, not max_batch 8


def test_a_version_whose_lite_build_fails_is_unavailable_with_the_reason(
    lite_double: ModuleType, serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.backends import lite

    monkeypatch.setattr(lite, "dynamic_batch_config", lambda *args: {})  # no declaration: Ascend refuses
    url = serve(backend="lite", lite_target="ascend")
    version = httpx.get(f"{url}/v1/models").json()["models"][0]["versions"][0]
    assert version["status"] == "unavailable"
    assert "needs [ascend_context] input_shape and dynamic_dims" in version["reason"]
    assert httpx.get(f"{url}/health/ready").status_code == 503


def run_check(repo: Path, *args: str, double: bool = True) -> subprocess.CompletedProcess[str]:
    path = [str(LITE_DOUBLE_DIR)] if double else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(REPO_ROOT)])}
    command = [
        sys.executable,
        "-m",
        "runtime.backends.check",
        "--model-repo",
        str(repo),
        "--runs",
        "2",
        *args,
    ]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_check_passes_every_gear_on_the_double(tiny_model_repo: Path) -> None:
    result = run_check(tiny_model_repo, "--backend", "lite", "--target", "ascend", "--gears", "1,4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tiny:1 on lite: judged on heatmaps" in result.stdout
    gears = [int(line.split()[0]) for line in result.stdout.splitlines() if line.strip().endswith(" ok")]
    assert gears == [1, 2, 4]
    assert result.stdout.strip().endswith("PASS")


def test_check_skips_a_version_without_the_backends_file(tiny_model_repo: Path, tmp_path: Path) -> None:
    """An int8 version has no MINDIR; the check says so and judges the versions that have one."""
    repo = tmp_path / "repo"
    shutil.copytree(tiny_model_repo, repo)
    shutil.copytree(repo / "tiny" / "1", repo / "tiny" / "2")
    (repo / "tiny" / "2" / MINDIR_FILE).unlink()
    result = run_check(repo, "--backend", "lite", "--target", "ascend", "--gears", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"tiny:2 on lite: skipped, the version has no {MINDIR_FILE}" in result.stdout
    assert "tiny:1 on lite: judged on heatmaps" in result.stdout


def test_check_judges_fp16_modes_on_keypoints(tiny_model_repo: Path) -> None:
    result = run_check(
        tiny_model_repo, "--backend", "lite", "--target", "gpu", "--precision-mode", "enforce_fp16"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "judged on keypoints (fp16 precision mode)" in result.stdout
    heatmap_diffs = [
        float(line.split()[1]) for line in result.stdout.splitlines() if line.strip().endswith(" ok")
    ]
    assert (
        heatmap_diffs and max(heatmap_diffs) > 0
    )  # the double's fp16 rounding shows, and keypoints still agree


def test_check_exits_non_zero_on_a_mismatch(
    tiny_model_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class OffByOneRow:
        """A wrong backend: onnxruntime's answer with the last row's heatmaps shifted by 0.01."""

        name = "wrong"
        batch_sizes = None

        def __init__(self, inner: object) -> None:
            self.inner = inner

        def infer(self, batch: np.ndarray) -> np.ndarray:
            output = self.inner.infer(batch).copy()
            output[-1] += 0.01
            return output

        def close(self) -> None:
            self.inner.close()

    real_create = check.create_backend
    monkeypatch.setattr(check, "create_backend", lambda *args: OffByOneRow(real_create(*args)))
    status = check.main(["--model-repo", str(tiny_model_repo), "--backend", "onnxruntime", "--gears", "1,2"])
    out = capsys.readouterr().out
    assert status == check.EXIT_MISMATCH
    assert out.count("MISMATCH") == 2
    assert out.strip().endswith("FAIL")


def test_check_exits_2_when_lite_is_missing(tiny_model_repo: Path) -> None:
    result = run_check(tiny_model_repo, "--backend", "lite", "--target", "ascend", double=False)
    assert result.returncode == check.EXIT_UNLOADABLE
    assert "CANNOT LOAD OR RUN" in result.stdout
    assert "MindSpore's release site" in result.stdout
