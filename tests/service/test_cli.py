"""`python -m service` as a process: refusing an empty repository, serving, graceful shutdown."""

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from helpers import REPO_ROOT, post_pose
from service_helpers import encode_image, random_image, wait_for_queued_crops

pytestmark = pytest.mark.slow


def test_empty_repository_fails_with_instructions(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "--model-repo", str(tmp_path / "nothing"), "--port", "0"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "holds no model" in result.stderr
    assert "python -m training.export" in result.stderr


def test_running_service_answers_and_logs_json_with_request_ids(running_service: str) -> None:
    response = httpx.get(f"{running_service}/v1/models", headers={"X-Request-ID": "cli-test-1"})
    assert response.status_code == 200
    assert response.json()["models"][0]["name"] == "tiny"


def test_sigterm_finishes_in_flight_requests(launch_service, tiny_model_repo: Path) -> None:
    """A request waiting in the batch queue when SIGTERM arrives still gets its 200."""
    with launch_service(tiny_model_repo, env={"HGPOSE_MAX_WAIT_MS": "3000", "HGPOSE_MAX_BATCH": "32"}) as svc:
        results: list[httpx.Response] = []
        image = encode_image(random_image(64, 64, seed=1), "PNG")
        request = threading.Thread(
            target=lambda: results.append(
                post_pose(
                    svc.url,
                    image,
                    [{"box": [2, 2, 60, 60]}],
                    headers={"X-Request-ID": "in-flight-1"},
                    timeout=30,
                )
            )
        )
        request.start()
        wait_for_queued_crops(svc.url, 2)
        svc.process.send_signal(signal.SIGTERM)
        request.join()
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status is -SIGTERM
        assert svc.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert results[0].status_code == 200
        lines = [json.loads(line) for line in svc.log().splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("request_id") == "in-flight-1"]
        assert access and access[-1]["status"] == 200
        assert any(line["message"] == "shut down" for line in lines)
