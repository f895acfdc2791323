"""Reading a POST /v1/pose or /v1/detect body, multipart or JSON, into image bytes and validated options.

The options models take JSON's types strictly (service.schemas). A multipart form's fields are text, read
into those types first, each by one grammar for its type: a boolean is `true` or `false`; an integer is
written in decimal digits with no sign, leading zero, point or space (`6`; not `06`, `+6`, `6.0`, ` 6` or
`6_0`), at most 18 of them; a number is written as in JSON (`0.5`, `16`, `1e-3`; not `.5`, `nan` or
` 1`), at most 32 characters. Anything else is a 422 naming the field.
"""

import functools
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from runtime.errors import shown
from service.errors import ServiceError
from service.payload import decode_base64, max_json_separators, on_loop_if_small, parse_json
from service.validation import validation_message

IMAGE_FIELD = "image"
IMAGE_BASE64_FIELD = "image_base64"
PERSONS_FIELD = "persons"

OptionsT = TypeVar("OptionsT", bound=BaseModel)
# The text a multipart field of each JSON type must be, and what it says when it is not.
TEXT_BOOLEAN = {"true": True, "false": False}
TEXT_INTEGER = re.compile(r"0|[1-9][0-9]{0,17}")
TEXT_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
TEXT_NUMBER_CHARS = 32


@dataclass(frozen=True)
class ImageRequest(Generic[OptionsT]):
    image_bytes: bytes
    options: OptionsT


def _options(raw: dict[str, object], model: type[OptionsT]) -> OptionsT:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ServiceError(422, validation_message(error)) from error


@functools.cache
def _json_types(model: type[BaseModel]) -> dict[str, str]:
    """Each field's JSON type (boolean, integer, number, string, ...), from the model's own schema."""
    types = {}
    for name, field in model.model_json_schema()["properties"].items():
        kinds = [option.get("type") for option in field.get("anyOf", [field])]
        types[name] = next((kind for kind in kinds if kind not in (None, "null")), "object")
    return types


def _typed(name: str, text: str, json_type: str) -> object:
    """A multipart field's text as its JSON type's value; 422 when the text is not that type's grammar."""
    if json_type == "boolean":
        if text not in TEXT_BOOLEAN:
            raise ServiceError(422, f"{name}: send true or false, not {shown(text)}")
        return TEXT_BOOLEAN[text]
    if json_type == "integer":
        if not TEXT_INTEGER.fullmatch(text):
            raise ServiceError(422, f"{name}: send an integer in decimal digits, e.g. 6, not {shown(text)}")
        return int(text)
    if json_type == "number":
        if len(text) > TEXT_NUMBER_CHARS or not TEXT_NUMBER.fullmatch(text):
            raise ServiceError(422, f"{name}: send a number as JSON writes it, e.g. 0.5, not {shown(text)}")
        return float(text)
    return text


def multipart_options(
    fields: dict[str, str], persons: str | None, model: type[OptionsT], max_persons: int
) -> OptionsT:
    """Text fields validated by `model` (each read as its JSON type), `persons` parsed as JSON first; 400
    or 422 naming the problem."""
    types = _json_types(model)
    raw: dict[str, object] = {
        name: _typed(name, text, types.get(name, "string")) for name, text in fields.items()
    }
    if persons is not None:
        what = f"multipart field '{PERSONS_FIELD}'"
        raw[PERSONS_FIELD] = parse_json(persons, what, max_json_separators(max_persons))
    return _options(raw, model)


async def _read_multipart(
    request: Request, model: type[OptionsT], max_persons: int
) -> ImageRequest[OptionsT]:
    # the image, and each option once
    form = await request.form(max_files=1, max_fields=1 + len(model.model_fields))
    image = form.get(IMAGE_FIELD)
    if not isinstance(image, UploadFile):
        raise ServiceError(422, f"multipart field '{IMAGE_FIELD}' is missing or is not a file")
    # max_files=1 and `image` is that file, so every other field is text.
    fields = {key: value for key, value in form.items() if isinstance(value, str) and key != PERSONS_FIELD}
    persons = form.get(PERSONS_FIELD)
    if persons is not None and not isinstance(persons, str):
        raise ServiceError(422, f"multipart field '{PERSONS_FIELD}' must be text (a JSON list of persons)")
    # 16 persons take ~2 KB: on the event loop
    persons_size = 0 if persons is None else len(persons)
    options = await on_loop_if_small(persons_size, multipart_options, fields, persons, model, max_persons)
    return ImageRequest(await image.read(), options)


def _json_request(body: bytes, model: type[OptionsT], max_persons: int) -> ImageRequest[OptionsT]:
    raw = parse_json(body, "the request body", max_json_separators(max_persons))
    if not isinstance(raw, dict):
        raise ServiceError(
            422, f"the JSON body must be an object with '{IMAGE_BASE64_FIELD}' and the options"
        )
    encoded = raw.pop(IMAGE_BASE64_FIELD, None)
    options = _options(raw, model)
    if not isinstance(encoded, str):
        raise ServiceError(422, f"{IMAGE_BASE64_FIELD}: a base64 string is required")
    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    return ImageRequest(decode_base64(encoded), options)


async def read_image_request(
    request: Request, model: type[OptionsT], max_persons: int
) -> ImageRequest[OptionsT]:
    """The body in either form, its options validated by `model`; 415 for any other content type. Parsing
    runs in the thread pool, in bounded steps (service.payload), so a large body does not stall the loop."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _read_multipart(request, model, max_persons)
    if media_type == "application/json":
        return await run_in_threadpool(_json_request, await request.body(), model, max_persons)
    received = media_type or "no content type"
    raise ServiceError(415, f"send multipart/form-data or application/json, not {received}")
