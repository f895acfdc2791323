"""Reading a POST /v1/pose body, multipart or JSON, into the image bytes and the validated options."""

import re
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from runtime.errors import shown
from service.errors import ServiceError
from service.payload import decode_base64, max_json_separators, parse_json
from service.schemas import PoseJsonRequest, PoseOptions
from service.validation import validation_message

# A `persons` field up to this size is parsed on the event loop (16 persons take ~2 KB; parsing 64 KB
# takes well under a millisecond); a larger one goes to the thread pool, which costs a thread hop.
INLINE_PERSONS_CHARS = 64 * 1024
# A multipart form's fields are text. `flip` is "true" or "false"; `version` a version number written as
# its folder is named: decimal digits, no sign, no leading zero, no point, no spaces (at most 18 digits).
MULTIPART_FLIP = {"true": True, "false": False}
MULTIPART_VERSION = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True)
class PoseRequest:
    image_bytes: bytes
    options: PoseOptions


OptionsT = TypeVar("OptionsT", bound=PoseOptions)


def _options(raw: dict[str, object], model: type[OptionsT]) -> OptionsT:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ServiceError(422, validation_message(error)) from error


def _typed_fields(fields: dict[str, str]) -> dict[str, object]:
    """The text fields with `flip` and `version` read into JSON's types; 422 for any other text."""
    typed: dict[str, object] = dict(fields)
    if "flip" in fields:
        if fields["flip"] not in MULTIPART_FLIP:
            raise ServiceError(422, f"flip: send 'true' or 'false', not {shown(fields['flip'])}")
        typed["flip"] = MULTIPART_FLIP[fields["flip"]]
    if "version" in fields:
        if not MULTIPART_VERSION.fullmatch(fields["version"]):
            raise ServiceError(
                422,
                f"version: send a version number in decimal digits, e.g. 6, not {shown(fields['version'])}",
            )
        typed["version"] = int(fields["version"])
    return typed


def _multipart_options(fields: dict[str, str], persons: str, max_persons: int) -> PoseOptions:
    raw = _typed_fields(fields)
    raw["persons"] = parse_json(persons, "multipart field 'persons'", max_json_separators(max_persons))
    return _options(raw, PoseOptions)


async def _read_multipart(request: Request, max_persons: int) -> PoseRequest:
    form = await request.form(max_files=1, max_fields=8)
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise ServiceError(422, "multipart field 'image' is missing or is not a file")
    persons = form.get("persons")
    if not isinstance(persons, str):
        raise ServiceError(422, "multipart field 'persons' (a JSON list of persons) is missing")
    # max_files=1 and `image` is that file, so every other field is text.
    fields = {key: value for key, value in form.items() if isinstance(value, str) and key != "persons"}
    if len(persons) <= INLINE_PERSONS_CHARS:
        options = _multipart_options(fields, persons, max_persons)
    else:
        options = await run_in_threadpool(_multipart_options, fields, persons, max_persons)
    return PoseRequest(await image.read(), options)


def _json_request(body: bytes, max_persons: int) -> PoseRequest:
    raw = parse_json(body, "the request body", max_json_separators(max_persons))
    if not isinstance(raw, dict):
        raise ServiceError(422, "the JSON body must be an object with 'image_base64' and 'persons'")
    options = _options(raw, PoseJsonRequest)
    encoded = options.image_base64
    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    return PoseRequest(decode_base64(encoded), options)


async def read_pose_request(request: Request, max_persons: int) -> PoseRequest:
    """The body in either form; 415 for any other content type. Parsing runs in the thread pool, in
    bounded steps (service.payload), so a large body does not stall the event loop."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _read_multipart(request, max_persons)
    if media_type == "application/json":
        return await run_in_threadpool(_json_request, await request.body(), max_persons)
    received = media_type or "no content type"
    raise ServiceError(415, f"send multipart/form-data or application/json, not {received}")
