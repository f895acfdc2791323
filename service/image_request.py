"""Reading a POST /v1/pose or /v1/detect body, multipart or JSON, into image bytes and validated options."""

from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.errors import ServiceError
from service.payload import decode_base64, max_json_separators, parse_json
from service.validation import validation_message

# A `persons` field up to this size is parsed on the event loop (16 persons take ~2 KB; parsing 64 KB
# takes well under a millisecond); a larger one goes to the thread pool, which costs a thread hop.
INLINE_PERSONS_CHARS = 64 * 1024
IMAGE_FIELD = "image"
IMAGE_BASE64_FIELD = "image_base64"
PERSONS_FIELD = "persons"

OptionsT = TypeVar("OptionsT", bound=BaseModel)


@dataclass(frozen=True)
class ImageRequest(Generic[OptionsT]):
    image_bytes: bytes
    options: OptionsT


def _options(raw: dict[str, object], model: type[OptionsT]) -> OptionsT:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ServiceError(422, validation_message(error)) from error


def _multipart_options(
    fields: dict[str, str], persons: str | None, model: type[OptionsT], max_persons: int
) -> OptionsT:
    raw: dict[str, object] = dict(fields)
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
    if persons is None or len(persons) <= INLINE_PERSONS_CHARS:
        options = _multipart_options(fields, persons, model, max_persons)
    else:
        options = await run_in_threadpool(_multipart_options, fields, persons, model, max_persons)
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
