"""The OpenAPI request bodies of the routes that take an image: multipart (an `image` file and text fields)
or JSON (`image_base64` and the same fields), both derived from the route's pydantic options model.

FastAPI cannot describe a body it does not parse itself, so the routes read their bodies by hand
(service.image_request) and give this schema in `openapi_extra`. It is written out in full: FastAPI does
not add `openapi_extra` schemas to the document's components, so a `$ref` there would point at nothing
(ReDoc refuses to render such a document).
"""

from typing import Any

from pydantic import BaseModel

from service.image_request import IMAGE_BASE64_FIELD, IMAGE_FIELD, PERSONS_FIELD

IMAGE_FILE = {"type": "string", "format": "binary", "description": "JPEG, PNG, BMP or WebP file"}


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` written in place of each `$ref`."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema as a form sends it: the value's own schema (a form has no null)."""
    forms = [form for form in field.get("anyOf", []) if form.get("type") != "null"]
    if len(forms) != 1:
        return field
    kept = {key: value for key, value in field.items() if key not in ("anyOf", "default")}
    return {**kept, **forms[0]}


def multipart_schema(
    options_schema: dict[str, Any], file_field: str, file_schema: dict[str, Any]
) -> dict[str, Any]:
    """A multipart body of one file and the text fields of `options_schema` (a pydantic schema with its
    definitions inlined), `persons` as JSON text."""
    properties: dict[str, Any] = {file_field: file_schema}
    for name, field in options_schema["properties"].items():
        if name == IMAGE_BASE64_FIELD:
            continue
        form_field = _without_null(field)
        if name == PERSONS_FIELD:
            example = '[{"box": [10, 20, 200, 400]}]'
            form_field = {
                "type": "string",
                "description": f"JSON list, e.g. {example}: {field.get('description', '')}",
                "contentMediaType": "application/json",
                "contentSchema": form_field,
            }
        properties[name] = form_field
    return {
        "type": "object",
        "required": [file_field],
        "additionalProperties": False,
        "properties": properties,
    }


def image_request_body(json_model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body is `json_model` (its options and `image_base64`); the
    multipart body has the same fields, the image as a file and `persons` as JSON text."""
    json_schema = inline_definitions(json_model.model_json_schema())
    multipart = multipart_schema(json_schema, IMAGE_FIELD, IMAGE_FILE)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": multipart},
                "application/json": {"schema": json_schema},
            },
        }
    }
