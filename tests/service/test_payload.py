"""service.payload on its own: the JSON structure bound and chunked base64 decoding."""

import base64
import json
import os

import pytest

from service.errors import ServiceError
from service.payload import decode_base64, max_json_separators, parse_json


def test_base64_over_several_chunks_with_line_breaks_decodes_exactly() -> None:
    data = os.urandom(3 * 2**20 + 7)  # several 1 MiB chunks, and a padded end
    for text in (base64.b64encode(data).decode(), base64.encodebytes(data).decode().replace("\n", "\r\n")):
        assert decode_base64(text) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("QUJD#", "not valid base64"),
        ("QUJ", "multiple of 4"),
        ("QU=D", "not valid base64"),
        ("QUJDé", "ascii"),
    ],
)
def test_bad_base64_is_400(text: str, message: str) -> None:
    with pytest.raises(ServiceError) as error:
        decode_base64(text)
    assert error.value.status_code == 400 and message in error.value.message


def test_the_most_persons_fit_the_json_bound_and_one_more_container_does_not() -> None:
    bound = max_json_separators(16)
    persons = [{"box": [1, 2, 3, 4]}] * 8 + [{"center": [1, 2], "scale": 3}] * 8
    body = json.dumps({"image_base64": "data:image/png;base64,QUJD", "persons": persons, "flip": True})
    assert parse_json(body.encode(), "body", bound)["persons"] == persons
    with pytest.raises(ServiceError) as error:
        parse_json(b"[" * (bound + 1), "body", bound)
    assert error.value.status_code == 422
