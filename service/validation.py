"""Readable one-line messages from pydantic validation errors ("persons.0.box: ...")."""

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


def validation_message(error: ValidationError | Sequence[dict[str, Any]]) -> str:
    """'field.path: problem; ...' for each error, leaving out FastAPI's 'body' prefix."""
    errors = error.errors() if isinstance(error, ValidationError) else error
    parts = []
    for item in errors:
        location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        message = str(item.get("msg", "invalid"))
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"
