"""What the HTTP edge does whatever arrives: /metrics labels from closed sets (no client can add series), HEAD
answered as GET, and a JSON 500 with the request id for an unexpected error."""

import re
import string
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import app_in_thread, post_pose
from service_helpers import encode_image, random_image

from service.api import demo, detect, docs, health, models, pose, repository
from service.app import create_app
from service.settings import Settings
from service.telemetry import METHODS, OTHER_LABEL, STATUSES

pytestmark = pytest.mark.slow

CASES = 300
SEED = 2024
STANDARD = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
KNOWN_PATHS = [
    "/v1/pose",
    "/v1/models",
    "/v1/repository",
    "/health/live",
    "/metrics",
    "/docs",
    "/demo/skeleton",
]
SERIES = re.compile(r"^hgpose_requests_total\{(?P<labels>.*)\} \S+$", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def random_token(rng: np.random.Generator, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(list(alphabet), size=int(rng.integers(low, high))))


def random_request(rng: np.random.Generator) -> tuple[str, str]:
    """An invented or standard method, and an invented, real or half-real path."""
    method = (
        random_token(rng, string.ascii_uppercase + "-_", 1, 12)
        if rng.random() < 0.7
        else rng.choice(STANDARD)
    )
    kind = rng.integers(3)
    if kind == 0:
        path = "/" + "/".join(
            random_token(rng, string.ascii_lowercase + "0123456789.%", 1, 9) for _ in range(3)
        )
    elif kind == 1:
        path = str(rng.choice(KNOWN_PATHS))
    else:
        path = f"/v1/repository/models/{random_token(rng, string.ascii_lowercase, 1, 30)}/load"
    return str(method), path


def route_templates(repo: Path) -> set[str]:
    """The app's own routes (those of its routers, included without a prefix) and mounts."""
    routes = [*create_app(Settings(model_repo=repo)).routes]
    for router in (
        demo.router,
        detect.router,
        docs.router,
        health.router,
        models.router,
        pose.router,
        repository.router,
    ):
        routes.extend(router.routes)
    return {path for route in routes if isinstance(path := getattr(route, "path", None), str)}


def test_invented_methods_and_paths_add_no_series(serve, tiny_model_repo: Path) -> None:
    url = serve()
    rng = np.random.default_rng(SEED)
    with httpx.Client(timeout=30) as client:
        for _ in range(CASES):
            method, path = random_request(rng)
            response = client.request(method, f"{url}{path}")
            assert response.status_code < 500, (method, path, response.text[:200])
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/json", (method, path)
    page = httpx.get(f"{url}/metrics").text
    series = [dict(LABEL.findall(match["labels"])) for match in SERIES.finditer(page)]
    assert {s["method"] for s in series} <= METHODS | {OTHER_LABEL}
    assert OTHER_LABEL in {s["method"] for s in series}
    assert {s["route"] for s in series} <= route_templates(tiny_model_repo) | {"unmatched"}
    assert {s["status"] for s in series} <= STATUSES | {OTHER_LABEL}
    assert len(series) <= 60 and len(page) < 64 * 1024, f"{len(series)} series, {len(page)} bytes"


def test_the_series_of_an_unloaded_version_leave_the_page(serve) -> None:
    url = serve()
    image = encode_image(random_image(64, 64, seed=1), "PNG")
    assert post_pose(url, image, [{"box": [0, 0, 60, 60]}]).status_code == 200
    assert 'model="tiny:1"' in httpx.get(f"{url}/metrics").text
    assert httpx.post(f"{url}/v1/repository/models/tiny/unload").status_code == 200
    assert 'model="tiny:1"' not in httpx.get(f"{url}/metrics").text
    assert httpx.post(f"{url}/v1/repository/models/tiny/load", timeout=60).status_code == 200
    assert post_pose(url, image, [{"box": [0, 0, 60, 60]}]).status_code == 200
    assert 'hgpose_queue_wait_seconds_count{model="tiny:1"} 1.0' in httpx.get(f"{url}/metrics").text


def test_head_is_answered_like_get_without_a_body(serve) -> None:
    url = serve()
    for path in ("/health/live", "/v1/models", "/", "/demo/assets/demo.js", "/openapi.json"):
        got, head = httpx.get(f"{url}{path}"), httpx.head(f"{url}{path}")
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == got.headers["content-length"], path
    refused = httpx.head(f"{url}/v1/pose")
    assert refused.status_code == 405 and refused.headers["content-type"] == "application/json"
    page = httpx.get(f"{url}/metrics").text
    assert 'hgpose_requests_total{method="HEAD",route="/health/live",status="200"} 1.0' in page


def test_an_unexpected_error_is_a_json_500_with_the_request_id(tiny_model_repo: Path) -> None:
    app = create_app(Settings(model_repo=tiny_model_repo, backend="onnxruntime"))

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    with app_in_thread(app, log_config=None) as served:
        response = httpx.get(f"{served.url}/broken", headers={"X-Request-ID": "bug-1"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        assert response.json()["request_id"] == "bug-1" and "internal error" in response.json()["detail"]
        assert httpx.get(f"{served.url}/health/live").status_code == 200
