"""The demo page, its skeleton, and the API docs over HTTP: all served locally, open without the API key."""

import json
import re

import httpx
import pytest

from core.drawing import SIDE_COLORS, css_color
from core.joints import JOINT_NAMES, SKELETON, joint_side, limb_side

pytestmark = pytest.mark.slow


def assert_page_headers(page: httpx.Response) -> None:
    """Loaded only from the service, in no other site's frame, never read as another type than it says."""
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.fixture
def keyed_url(serve) -> str:
    """A service that asks for an API key on /v1/*."""
    return serve(api_key="k")


def test_the_page_and_its_assets_are_served_without_the_key(keyed_url: str) -> None:
    page = httpx.get(f"{keyed_url}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_page_headers(page)
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "demo/assets/demo.js" in references and "demo/assets/demo.css" in references
    for reference in references:
        assert not reference.startswith(("http:", "https:", "//")), reference
        asset = httpx.get(f"{keyed_url}/{reference}", timeout=10)
        assert asset.status_code == 200, reference
    script = httpx.get(f"{keyed_url}/demo/assets/demo.js", timeout=10)
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert httpx.get(f"{keyed_url}/v1/models", timeout=10).status_code == 401


def test_the_skeleton_is_cores(keyed_url: str) -> None:
    body = httpx.get(f"{keyed_url}/demo/skeleton", timeout=10).json()
    assert body["joints"] == [{"name": n, "side": joint_side(j)} for j, n in enumerate(JOINT_NAMES)]
    assert body["limbs"] == [
        {"joints": [JOINT_NAMES[a], JOINT_NAMES[b]], "side": limb_side((a, b))} for a, b in SKELETON
    ]
    assert body["colors"] == {side: css_color(bgr) for side, bgr in SIDE_COLORS.items()}
    assert body["colors"]["right"] != body["colors"]["left"]


@pytest.mark.parametrize(("path", "assets"), [("/docs", 3), ("/redoc", 2)])
def test_docs_pages_load_their_assets_from_the_service(keyed_url: str, path: str, assets: int) -> None:
    html = httpx.get(f"{keyed_url}{path}", timeout=10)
    assert html.status_code == 200
    assert_page_headers(html)
    urls = re.findall(r"https?://[^\s\"'<>]+", html.text)
    assert urls == [], f"{path} refers to outside hosts: {urls}"
    local = re.findall(r"""["'](/docs-assets/[^"']+)["']""", html.text)
    assert len(set(local)) == assets, local
    for asset in set(local):
        response = httpx.get(f"{keyed_url}{asset}", timeout=10)
        assert response.status_code == 200 and len(response.content) > 1000, asset
    assert httpx.get(f"{keyed_url}/openapi.json", timeout=10).status_code == 200


def test_every_reference_in_the_openapi_document_resolves(keyed_url: str) -> None:
    document = httpx.get(f"{keyed_url}/openapi.json", timeout=10).json()
    references = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(document)))
    assert references
    for reference in references:
        node = document
        for key in reference.removeprefix("#/").split("/"):
            assert key in node, f"{reference} points at nothing"
            node = node[key]
    # The JSON request body's persons (a list, or null for the detector to find them) are described in place.
    body = document["paths"]["/v1/pose"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    persons = body["properties"]["persons"]  # a list, or null (the detector finds the persons)
    items = next(option["items"] for option in persons.get("anyOf", [persons]) if "items" in option)
    assert "box" in items["properties"]
