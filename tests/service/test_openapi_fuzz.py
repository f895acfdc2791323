"""The OpenAPI document is valid, and schemathesis requests generated from it get no 5xx and only
documented, schema-conformant responses (a bounded run: a few dozen cases per operation)."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_helpers import encode_image, random_image

pytestmark = pytest.mark.slow

CASES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), reference
    node: Any = document
    for part in reference[2:].split("/"):
        node = node[part]
    return node


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


@pytest.fixture(scope="module")
def api_schema(service_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{service_url}/openapi.json")


def test_every_reference_in_the_openapi_document_resolves(service_url: str) -> None:
    document = httpx.get(f"{service_url}/openapi.json").json()
    references = set(_references(document))
    assert references  # the responses refer to components
    for reference in references:
        assert isinstance(_resolve(document, reference), dict), reference
    body = document["paths"]["/v1/pose"]["post"]["requestBody"]["content"]
    assert "Person" not in json.dumps(body["application/json"]["schema"].get("$defs", {}))
    assert body["multipart/form-data"]["schema"]["additionalProperties"] is False


def test_a_valid_json_body_conforms_to_the_documented_schema(service_url: str) -> None:
    """The schema accepts what the service serves: a real request validates against it."""
    document = httpx.get(f"{service_url}/openapi.json").json()
    schema = document["paths"]["/v1/pose"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    image = encode_image(random_image(64, 64, seed=1), "PNG")
    body = {"image_base64": base64.b64encode(image).decode(), "persons": [{"box": [1, 2, 60, 60]}]}
    jsonschema.validate(body, schema)
    assert httpx.post(f"{service_url}/v1/pose", json=body, timeout=60).status_code == 200


def _operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api_schema.get_all_operations()]


def _fuzz(
    operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, path: dict[str, str]
) -> None:
    """CASES_PER_OPERATION generated requests to `operation`, path parameters named in `path` set to it."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        if path and case.path_parameters:
            case.path_parameters = {key: path.get(key, value) for key, value in case.path_parameters.items()}
        case.call_and_validate(checks=CHECKS, timeout=60)

    check()


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda mode: mode.value)
def test_generated_requests_get_no_5xx_and_documented_responses(
    api_schema: schemathesis.BaseSchema, mode: schemathesis.GenerationMode
) -> None:
    """Schema-valid (positive) requests for every operation, schema-violating (negative) ones for every
    operation with a body (the others have nothing to violate)."""
    operations = _operations(api_schema)
    assert {operation.path for operation in operations} >= {
        "/v1/pose",
        "/v1/models",
        "/health/live",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/v2/repository/index",
    }
    if mode is schemathesis.GenerationMode.NEGATIVE:
        operations = [operation for operation in operations if len(operation.body)]
        assert operations
    for operation in operations:
        _fuzz(operation, mode, {})


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda mode: mode.value)
def test_generated_infer_requests_for_the_served_model_get_no_5xx(
    api_schema: schemathesis.BaseSchema, mode: schemathesis.GenerationMode
) -> None:
    """The Open Inference Protocol's infer routes with the served model's name and version, so that the
    generated tensors reach the codec and the model instead of stopping at an unknown model."""
    operations = [
        op
        for op in _operations(api_schema)
        if op.path.startswith("/v2/models/") and op.path.endswith("/infer")
    ]
    assert len(operations) == 2
    for operation in operations:
        _fuzz(operation, mode, {"name": "tiny", "version": "1"})
