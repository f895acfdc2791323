"""Reading a POST /v1/pose body, multipart or JSON, into the image bytes and the validated options."""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from service.errors import ServiceError
from service.schemas import PoseJsonRequest, PoseOptions
from service.validation import validation_message


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


async def _read_multipart(request: Request) -> PoseRequest:
    form = await request.form(max_files=1, max_fields=8)
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise ServiceError(422, "multipart field 'image' is missing or is not a file")
    persons = form.get("persons")
    if not isinstance(persons, str):
        raise ServiceError(422, "multipart field 'persons' (a JSON list of persons) is missing")
    try:
        persons_value = json.loads(persons)
    except json.JSONDecodeError as error:
        raise ServiceError(400, f"multipart field 'persons' is not valid JSON: {error}") from error
    raw: dict[str, object] = {key: value for key, value in form.items() if key not in ("image", "persons")}
    raw["persons"] = persons_value
    options = _options(raw, PoseOptions)
    return PoseRequest(await image.read(), options)


async def _read_json(request: Request) -> PoseRequest:
    body = await request.body()
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ServiceError(400, f"the request body is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise ServiceError(422, "the JSON body must be an object with 'image_base64' and 'persons'")
    options = _options(raw, PoseJsonRequest)
    encoded = options.image_base64
    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ServiceError(400, f"image_base64 is not valid base64: {error}") from error
    return PoseRequest(image, options)


async def read_pose_request(request: Request) -> PoseRequest:
    """The body in either form; 415 for any other content type."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _read_multipart(request)
    if media_type == "application/json":
        return await _read_json(request)
    received = media_type or "no content type"
    raise ServiceError(415, f"send multipart/form-data or application/json, not {received}")
