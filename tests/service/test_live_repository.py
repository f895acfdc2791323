"""The live model repository: versions exported, replaced and removed while the service serves requests.

The servers are real (uvicorn on 127.0.0.1, real onnxruntime backends); the backend factory only wraps
each real backend to record when the service closes it.
"""

import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from helpers import post_pose
from service_helpers import decoded_pixels, encode_image, oracle_keypoints, random_image, response_keypoints

from core.model_repo import METADATA_FILE, ONNX_FILE
from runtime.backends import Backend, create_backend
from runtime.options import RuntimeOptions

CLIENTS = 8
POLL_S = 0.1
WAIT_S = 120.0
BOX = [8.0, 6.0, 100.0, 90.0]


class ReleaseRecorder:
    """A backend factory that makes the real backend and records, per version label, when it is closed."""

    def __init__(self) -> None:
        self.closed: list[str] = []

    def __call__(self, name: str, path: Path, options: RuntimeOptions) -> Backend:
        backend = create_backend(name, path, options)
        label = f"{path.parent.name}:{path.name}"
        recorder = self

        class Recorded:
            name = backend.name
            batch_sizes = backend.batch_sizes
            devices = backend.devices  # the wrapped backend's, which /v1/models lists

            def infer(self, batch: np.ndarray) -> np.ndarray:
                return backend.infer(batch)

            def close(self) -> None:
                recorder.closed.append(label)
                backend.close()

        return Recorded()


@dataclass
class Outcome:
    status: int
    finished_at: float
    body: dict[str, Any] | str


@dataclass
class ClientPool:
    """CLIENTS threads posting the same image until stopped (or WAIT_S passes)."""

    url: str
    image: bytes
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _client(self) -> None:
        deadline = time.monotonic() + WAIT_S
        with httpx.Client(timeout=60) as http:
            while not self.stop.is_set() and time.monotonic() < deadline:
                response = http.post(
                    f"{self.url}/v1/pose",
                    files={"image": ("p.jpg", self.image, "image/jpeg")},
                    data={"persons": f'[{{"box": {BOX}}}]'},
                )
                is_json = response.headers.get("content-type", "").startswith("application/json")
                body = response.json() if is_json else response.text
                self.outcomes.append(Outcome(response.status_code, time.monotonic(), body))

    def __enter__(self) -> "ClientPool":
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=90)

    def versions_since(self, moment: float) -> list[int]:
        return [
            o.body["model"]["version"]
            for o in list(self.outcomes)
            if o.status == 200 and o.finished_at > moment
        ]


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def repository_states(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, int], dict]:
    index = httpx.get(f"{url}/v1/repository", headers=headers, timeout=10).json()
    return {(v["name"], v["version"]): v for v in index["versions"] if v["state"] != "unloading"}


def copy_version(source: Path, target: Path, version: int) -> Path:
    """`source` as another version number: the same network, metadata renumbered (checksums still hold)."""
    shutil.copytree(source, target)
    metadata = (target / METADATA_FILE).read_text()
    (target / METADATA_FILE).write_text(metadata.replace('"version": 1,', f'"version": {version},', 1))
    return target


def corrupt(model_file: Path) -> None:
    with open(model_file, "r+b") as stream:
        stream.seek(100)
        byte = stream.read(1)
        stream.seek(100)
        stream.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def repo(tiny_model_repo: Path, tmp_path: Path) -> Path:
    """A repository of its own holding tiny/1."""
    shutil.copytree(tiny_model_repo / "tiny" / "1", tmp_path / "repo" / "tiny" / "1")
    return tmp_path / "repo"


@pytest.fixture(scope="module")
def version_two(export_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny/2: another network (another seed), exported beside the repositories under test."""
    return export_model(tmp_path_factory.mktemp("staging"), version=2, seed=1)


def assert_served_without_failure_by_the_version_named(
    pool: ClientPool, image: bytes, version_dirs: dict[int, Path]
) -> None:
    failures = [o for o in pool.outcomes if o.status != 200]
    assert not failures, f"{len(failures)} of {len(pool.outcomes)} requests failed, e.g. {failures[0]}"
    versions = [o.body["model"]["version"] for o in pool.outcomes]
    assert set(versions) == set(version_dirs)
    # Each response's keypoints are those of the version it names (the two networks disagree).
    person = pool.outcomes[0].body["persons"][0]
    centers, scales = np.array([person["center"]]), np.array([person["scale"]])
    pixels = decoded_pixels(image)
    expected = {v: oracle_keypoints(path, pixels, centers, scales) for v, path in version_dirs.items()}
    assert np.abs(expected[1].image_xy - expected[2].image_xy).max() > 1.0
    for outcome in pool.outcomes:
        xy, scores = response_keypoints(outcome.body)
        truth = expected[outcome.body["model"]["version"]]
        np.testing.assert_allclose(xy, truth.image_xy, atol=1e-4)
        np.testing.assert_allclose(scores, truth.scores, atol=1e-5)


@pytest.mark.slow
def test_a_version_copied_in_under_load_becomes_default_and_the_old_one_is_released(
    serve, repo, tiny_model_repo, version_two
):
    # Copied in file by file while the clients run, as an operator rolls a version out: scans may
    # catch it half-copied.
    recorder = ReleaseRecorder()
    url = serve(repo, backend_factory=recorder, repository_poll_s=POLL_S)
    data = encode_image(random_image(96, 128, seed=5))
    with ClientPool(url, data) as pool:
        wait_until(lambda: len(pool.outcomes) >= CLIENTS, "every client had an answer")
        shutil.copytree(version_two, repo / "tiny" / "2")
        switched = wait_until(
            lambda: httpx.get(f"{url}/v1/models").json()["models"][0]["default_version"] == 2,
            "version 2 became the default",
        )
        wait_until(lambda: pool.versions_since(switched).count(2) >= CLIENTS, "clients were served by 2")
        shutil.rmtree(repo / "tiny" / "1")
        released = wait_until(lambda: "tiny:1" in recorder.closed, "version 1 was released")
        wait_until(lambda: len(pool.versions_since(released)) >= CLIENTS, "clients were served after it")
    assert recorder.closed == ["tiny:1"], "only the removed version is released, and once"
    assert list(repository_states(url)) == [("tiny", 2)]

    assert set(pool.versions_since(released)) == {2}
    assert_served_without_failure_by_the_version_named(
        pool, data, {1: tiny_model_repo / "tiny" / "1", 2: version_two}
    )


@pytest.mark.slow
def test_a_version_replaced_under_load_finishes_its_requests_before_it_is_released(
    serve, repo, tiny_model_repo, version_two
):
    # One explicit load swaps 1 (the default, taking every request) for 2: requests holding 1 finish on it.
    recorder = ReleaseRecorder()
    url = serve(repo, backend_factory=recorder)
    data = encode_image(random_image(720, 1280, seed=8))  # decoding takes longer than inference
    with ClientPool(url, data) as pool:
        wait_until(lambda: len(pool.outcomes) >= CLIENTS, "every client had an answer")
        shutil.copytree(version_two, repo / "tiny" / "2")
        shutil.rmtree(repo / "tiny" / "1")
        swapped_at = time.monotonic()
        response = httpx.post(f"{url}/v1/repository/models/tiny/load", timeout=60)
        assert response.status_code == 200
        assert [(v["version"], v["state"]) for v in response.json()["versions"]] in (
            [(2, "ready"), (1, "unloading")],
            [(2, "ready")],
        )
        released = wait_until(lambda: "tiny:1" in recorder.closed, "version 1 was released")
        wait_until(lambda: len(pool.versions_since(released)) >= CLIENTS, "clients were served after it")
    assert recorder.closed == ["tiny:1"]
    finished_on_one_after_the_swap = [
        o
        for o in pool.outcomes
        if o.status == 200 and o.finished_at > swapped_at and o.body["model"]["version"] == 1
    ]
    assert finished_on_one_after_the_swap, "requests were in flight on version 1 when it was swapped out"
    assert_served_without_failure_by_the_version_named(
        pool, data, {1: tiny_model_repo / "tiny" / "1", 2: version_two}
    )


def test_a_broken_new_version_is_listed_unavailable_and_serving_goes_on(serve, repo):
    url = serve(repo, repository_poll_s=POLL_S)
    broken = copy_version(repo / "tiny" / "1", repo / "tiny" / "2", 2)
    corrupt(broken / ONNX_FILE)
    wait_until(lambda: repository_states(url)[("tiny", 2)]["state"] == "unavailable", "2 was tried")
    states = repository_states(url)
    assert "sha256" in states[("tiny", 2)]["reason"]
    assert states[("tiny", 1)]["state"] == "ready" and states[("tiny", 1)]["default"] is True
    data = encode_image(random_image(96, 128, seed=6))
    response = post_pose(url, data, [{"box": BOX}])
    assert response.status_code == 200 and response.json()["model"]["version"] == 1
    # Fixed in place (the folder changes): the next scan loads it and it becomes the default.
    shutil.copy(repo / "tiny" / "1" / ONNX_FILE, broken / ONNX_FILE)
    wait_until(lambda: repository_states(url)[("tiny", 2)]["state"] == "ready", "the fixed 2 loaded")
    assert repository_states(url)[("tiny", 2)]["default"] is True


def test_explicit_load_and_unload_behind_the_api_key(serve, repo):
    recorder = ReleaseRecorder()
    url = serve(repo, backend_factory=recorder, api_key="secret")
    key = {"Authorization": "Bearer secret"}
    assert httpx.get(f"{url}/v1/repository").status_code == 401
    assert httpx.post(f"{url}/v1/repository/models/tiny/load").status_code == 401
    assert httpx.post(f"{url}/v1/repository/models/tiny/unload").status_code == 401

    index = httpx.get(f"{url}/v1/repository", headers=key).json()
    assert index["poll_s"] is None
    assert index["versions"] == [
        {
            "name": "tiny",
            "version": 1,
            "state": "ready",
            "on_disk": True,
            "default": True,
            "reason": None,
            "reload_error": None,
        }
    ]

    copy_version(repo / "tiny" / "1", repo / "tiny" / "2", 2)
    corrupt(copy_version(repo / "tiny" / "1", repo / "tiny" / "3", 3) / ONNX_FILE)
    states = repository_states(url, key)
    assert states[("tiny", 2)]["state"] == states[("tiny", 3)]["state"] == "not loaded"
    assert states[("tiny", 1)]["default"] is True, "poll mode is off: nothing loads by itself"

    response = httpx.post(f"{url}/v1/repository/models/tiny/load", headers=key, timeout=60)
    assert response.status_code == 200
    loaded = {v["version"]: v for v in response.json()["versions"]}
    assert [loaded[v]["state"] for v in (3, 2, 1)] == ["unavailable", "ready", "ready"]
    assert "sha256" in loaded[3]["reason"] and loaded[2]["default"] is True
    models = httpx.get(f"{url}/v1/models", headers=key).json()["models"]
    assert models[0]["default_version"] == 2

    for name in ("nope", ".hidden"):
        missing = httpx.post(f"{url}/v1/repository/models/{name}/load", headers=key)
        assert missing.status_code == 404 and "no model" in missing.json()["detail"]

    response = httpx.post(f"{url}/v1/repository/models/tiny/unload", headers=key)
    assert response.status_code == 200
    assert httpx.get(f"{url}/health/ready").status_code == 503
    wait_until(lambda: sorted(recorder.closed) == ["tiny:1", "tiny:2"], "both versions were released", 30)
    states = repository_states(url, key)
    assert {v["state"] for v in states.values()} == {"not loaded"}
    assert {v["reason"] for v in states.values()} == {"unloaded on request"}
    data = encode_image(random_image(96, 128, seed=7))
    refused = post_pose(url, data, [{"box": BOX}], headers=key)
    assert refused.status_code == 503 and refused.json()["detail"] == "no model is loaded"

    assert httpx.post(f"{url}/v1/repository/models/tiny/load", headers=key, timeout=60).status_code == 200
    assert httpx.get(f"{url}/health/ready").status_code == 200


def metric_value(url: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", httpx.get(f"{url}/metrics").text, re.MULTILINE)
    assert match, f"{name} is not on /metrics"
    return float(match.group(1))


def test_a_repository_folder_away_for_a_while_changes_nothing(serve, repo):
    recorder = ReleaseRecorder()
    url = serve(repo, backend_factory=recorder, repository_poll_s=POLL_S)
    data = encode_image(random_image(96, 128, seed=9))
    away = repo.with_name("repo-away")
    repo.rename(away)
    wait_until(lambda: metric_value(url, "hgpose_repository_scan_failures_total") >= 3, "three scans failed")
    assert metric_value(url, "hgpose_repository_readable") == 0
    for _ in range(3):
        response = post_pose(url, data, [{"box": BOX}])
        assert response.status_code == 200 and response.json()["model"]["version"] == 1
    index = httpx.get(f"{url}/v1/repository")
    assert index.status_code == 503 and "cannot be read" in index.json()["detail"]
    assert str(repo) not in index.text
    assert httpx.get(f"{url}/v1/models").json()["models"][0]["versions"][0]["status"] == "ready"
    away.rename(repo)
    wait_until(lambda: metric_value(url, "hgpose_repository_readable") == 1, "the repository was read again")
    assert list(repository_states(url)) == [("tiny", 1)]
    assert repository_states(url)[("tiny", 1)]["state"] == "ready"
    assert post_pose(url, data, [{"box": BOX}], version="1").status_code == 200
    assert recorder.closed == [], "nothing was reloaded or released"


def test_a_serving_version_whose_files_break_keeps_serving_listed_with_the_reason(serve, repo):
    recorder = ReleaseRecorder()
    copy_version(repo / "tiny" / "1", repo / "tiny" / "2", 2)
    url = serve(repo, backend_factory=recorder, repository_poll_s=POLL_S)
    data = encode_image(random_image(96, 128, seed=10))
    healthy = (repo / "tiny" / "2" / ONNX_FILE).read_bytes()
    corrupt(repo / "tiny" / "2" / ONNX_FILE)
    wait_until(lambda: repository_states(url)[("tiny", 2)]["reload_error"] is not None, "the reload failed")
    state = repository_states(url)[("tiny", 2)]
    assert (state["state"], state["default"], state["on_disk"]) == ("ready", True, True)
    assert "sha256" in state["reload_error"] and state["reason"] is None
    listed = httpx.get(f"{url}/v1/models").json()["models"][0]
    assert listed["default_version"] == 2
    version_two = next(v for v in listed["versions"] if v["version"] == 2)
    assert version_two["status"] == "ready" and "sha256" in version_two["reload_error"]
    for fields in ({"version": "2"}, {}):  # pinned, and the default: both stay on the copy in memory
        response = post_pose(url, data, [{"box": BOX}], **fields)
        assert response.status_code == 200 and response.json()["model"]["version"] == 2
    assert recorder.closed == []
    # Mended on disk: the new copy loads and replaces the one that kept serving.
    (repo / "tiny" / "2" / ONNX_FILE).write_bytes(healthy)
    wait_until(lambda: recorder.closed == ["tiny:2"], "the old copy was replaced and released")
    assert repository_states(url)[("tiny", 2)]["reload_error"] is None
    assert post_pose(url, data, [{"box": BOX}], version="2").status_code == 200


def test_repository_control_on_an_unreadable_repository_is_a_json_503_and_changes_nothing(serve, repo):
    recorder = ReleaseRecorder()
    url = serve(repo, backend_factory=recorder)
    away = repo.with_name("repo-away")
    repo.rename(away)
    repo.symlink_to(repo)  # a link to itself: listing it fails (ELOOP) as an unreadable folder does
    try:
        for method, path in [
            ("GET", "/v1/repository"),
            ("POST", "/v1/repository/models/tiny/load"),
            ("POST", "/v1/repository/models/tiny/unload"),
        ]:
            response = httpx.request(method, f"{url}{path}", timeout=60)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["content-type"] == "application/json"
            assert "cannot be read" in response.json()["detail"] and response.json()["request_id"]
        assert httpx.get(f"{url}/health/ready").status_code == 200, "the unload changed nothing"
        data = encode_image(random_image(96, 128, seed=11))
        assert post_pose(url, data, [{"box": BOX}]).status_code == 200
    finally:
        repo.unlink()
        away.rename(repo)
    assert recorder.closed == []
    assert httpx.post(f"{url}/v1/repository/models/tiny/unload").status_code == 200
    wait_until(lambda: recorder.closed == ["tiny:1"], "the unload, with the repository back, released it", 30)
