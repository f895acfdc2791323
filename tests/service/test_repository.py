"""The model repository: broken versions are listed as unavailable with the reason, the others serve."""

import json
import logging
import shutil
from pathlib import Path

import httpx
import pytest
from service_helpers import encode_image, random_image

from core.model_repo import METADATA_FILE, ONNX_FILE
from runtime.repository.folders import version_folders

pytestmark = pytest.mark.slow

IMAGE = encode_image(random_image(80, 80, seed=3), "PNG")
PERSONS = json.dumps([{"box": [5, 5, 70, 75]}])


def copy_version(source: Path, repo: Path, name: str, version: int) -> Path:
    target = repo / name / str(version)
    shutil.copytree(source, target)
    metadata = json.loads((target / METADATA_FILE).read_text())
    metadata.update(name=name, version=version)
    (target / METADATA_FILE).write_text(json.dumps(metadata))
    return target


@pytest.fixture
def mixed_repo(tiny_model_repo: Path, tmp_path: Path) -> Path:
    """tiny/1 good, tiny/2 corrupt ONNX, tiny/3 no metadata; other/1 good, broken/1 malformed metadata."""
    source = tiny_model_repo / "tiny" / "1"
    repo = tmp_path / "repo"
    copy_version(source, repo, "tiny", 1)
    corrupt = copy_version(source, repo, "tiny", 2)
    data = bytearray((corrupt / ONNX_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (corrupt / ONNX_FILE).write_bytes(bytes(data))
    (copy_version(source, repo, "tiny", 3) / METADATA_FILE).unlink()
    copy_version(source, repo, "other", 1)
    (copy_version(source, repo, "broken", 1) / METADATA_FILE).write_text("{not json")
    return repo


def test_broken_versions_are_listed_with_their_reason_and_the_rest_serve(serve, mixed_repo: Path) -> None:
    url = serve(repo=mixed_repo, default_model="tiny")
    listing = {m["name"]: m for m in httpx.get(f"{url}/v1/models").json()["models"]}

    tiny = {v["version"]: v for v in listing["tiny"]["versions"]}
    assert [v["version"] for v in listing["tiny"]["versions"]] == [3, 2, 1]
    assert listing["tiny"]["default_version"] == 1
    assert tiny[1]["status"] == "ready" and tiny[1]["reason"] is None
    assert tiny[1]["input_size"] == [64, 64] and tiny[1]["heatmap_size"] == [16, 16]
    assert tiny[1]["backend"] == "onnxruntime"
    assert tiny[1]["backend_reason"] == "the backend setting names onnxruntime"
    assert listing["tiny"]["default_reason"] == "fp32, the newest export"
    assert (tiny[1]["precision"], tiny[1]["model_file"]) == ("fp32", "model.onnx")
    assert tiny[1]["devices"] == ["CPUExecutionProvider"]  # the session's providers: what really runs it
    assert tiny[2]["status"] == "unavailable" and "sha256" in tiny[2]["reason"]
    assert tiny[2]["devices"] is None
    assert tiny[3]["status"] == "unavailable" and "metadata.json is missing" in tiny[3]["reason"]
    assert listing["broken"]["default_version"] is None
    assert "not valid JSON" in listing["broken"]["versions"][0]["reason"]
    assert listing["other"]["versions"][0]["status"] == "ready"

    files = {"image": ("i.png", IMAGE)}
    default = httpx.post(f"{url}/v1/pose", files=files, data={"persons": PERSONS})
    assert default.status_code == 200
    assert default.json()["model"]["version"] == 1
    other = httpx.post(f"{url}/v1/pose", files=files, data={"persons": PERSONS, "model": "other"})
    assert other.json()["model"]["name"] == "other"
    not_ready = httpx.post(f"{url}/v1/pose", files=files, data={"persons": PERSONS, "version": "2"})
    assert not_ready.status_code == 503
    assert "version 2 is not ready" in not_ready.json()["detail"]
    no_version = httpx.post(f"{url}/v1/pose", files=files, data={"persons": PERSONS, "model": "broken"})
    assert no_version.status_code == 503
    assert httpx.get(f"{url}/health/ready").json() == {"status": "ready", "models_ready": 2}


def test_several_models_without_a_default_need_a_model_name(serve, mixed_repo: Path) -> None:
    url = serve(repo=mixed_repo)
    response = httpx.post(f"{url}/v1/pose", files={"image": ("i.png", IMAGE)}, data={"persons": PERSONS})
    assert response.status_code == 400
    assert "choose with 'model'" in response.json()["detail"]


def test_a_repository_without_ready_models_is_not_ready(serve, tmp_path: Path, tiny_model_repo: Path) -> None:
    repo = tmp_path / "repo"
    (copy_version(tiny_model_repo / "tiny" / "1", repo, "tiny", 1) / ONNX_FILE).unlink()
    url = serve(repo=repo)
    ready = httpx.get(f"{url}/health/ready")
    assert ready.status_code == 503
    assert ready.json()["models_ready"] == 0
    assert httpx.get(f"{url}/health/live").status_code == 200
    version = httpx.get(f"{url}/v1/models").json()["models"][0]["versions"][0]
    assert "model.onnx is missing" in version["reason"]


def test_a_broken_extra_model_leaves_requests_without_a_model_to_the_ready_one(
    serve, tmp_path: Path, tiny_model_repo: Path
) -> None:
    repo = tmp_path / "repo"
    copy_version(tiny_model_repo / "tiny" / "1", repo, "tiny", 1)
    (copy_version(tiny_model_repo / "tiny" / "1", repo, "broken", 1) / METADATA_FILE).write_text("{")
    url = serve(repo=repo)
    response = httpx.post(f"{url}/v1/pose", files={"image": ("i.png", IMAGE)}, data={"persons": PERSONS})
    assert response.status_code == 200, response.text
    assert response.json()["model"]["name"] == "tiny"


def test_reasons_and_503_details_hold_no_server_path(serve, mixed_repo: Path) -> None:
    url = serve(repo=mixed_repo, default_model="tiny")
    listing = httpx.get(f"{url}/v1/models").text
    assert str(mixed_repo) not in listing and str(mixed_repo.resolve()) not in listing
    assert "tiny/3/metadata.json is missing" in listing
    files = {"image": ("i.png", IMAGE)}
    not_ready = httpx.post(f"{url}/v1/pose", files=files, data={"persons": PERSONS, "version": "3"})
    assert not_ready.status_code == 503
    assert "tiny/3/metadata.json is missing" in not_ready.json()["detail"]
    assert str(mixed_repo) not in not_ready.text


def test_folders_not_named_by_a_version_are_skipped_and_logged(
    tmp_path: Path, tiny_model_repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = tmp_path / "repo"
    copy_version(tiny_model_repo / "tiny" / "1", repo, "tiny", 1)
    for name in ("²", "latest", "007", "0"):
        (repo / "tiny" / name).mkdir()
    with caplog.at_level(logging.WARNING, logger="core.model_repo"):
        assert version_folders(repo) == {("tiny", 1): repo / "tiny" / "1"}
    skipped = [record.getMessage() for record in caplog.records]
    assert len(skipped) == 4 and all("skipping folder" in message for message in skipped)
    assert any("'²'" in message for message in skipped)
