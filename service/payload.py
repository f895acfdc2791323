"""A pose request's JSON and base64 turned into Python values at a bounded cost per call.

Parsing a large body runs in the thread pool (a small one on the event loop: `on_loop_if_small`), but a parser
holds the GIL for its whole call, so the event loop still waits for each call: the amount of JSON structure is
capped before parsing (a request needs a few values per person; an image's base64 has no brackets, braces or
commas), the JSON is parsed by pydantic-core's parser (about 4x faster than json.loads on a 20 MB string, and
depth-limited), and base64 is cleaned and decoded in chunks of a few milliseconds each.
"""

import binascii
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import pydantic_core
from starlette.concurrency import run_in_threadpool

from service.errors import ServiceError

# Brackets, braces and commas a request may hold: a person needs at most 6 ({"box": [x1, y1, x2, y2]}),
# the rest of the body a few.
JSON_SEPARATORS_PER_PERSON = 8
JSON_SEPARATORS_BESIDE_PERSONS = 32
_BASE64_WHITESPACE = b" \t\r\n"
_BASE64_CHUNK = 1 << 20  # a multiple of 4 characters
# Parsing or writing this much (JSON, a few persons, a few small tensors) takes well under a millisecond,
# less than a hop to the thread pool and back.
INLINE_BYTES = 64 * 1024

P = ParamSpec("P")
R = TypeVar("R")


async def on_loop_if_small(size: int, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`function(*args, **kwargs)` on the event loop when `size` (bytes or characters to handle) is at most
    INLINE_BYTES, in the thread pool otherwise."""
    if size <= INLINE_BYTES:
        return function(*args, **kwargs)
    return await run_in_threadpool(function, *args, **kwargs)


def max_json_separators(max_persons: int) -> int:
    return JSON_SEPARATORS_PER_PERSON * max_persons + JSON_SEPARATORS_BESIDE_PERSONS


def parse_json(
    data: bytes | str,
    what: str,
    max_separators: int,
    bound: str = "a request with the most persons allowed needs at most",
) -> Any:
    """The JSON value of `data`; 400 when it is not JSON (or nested deeper than the parser's limit), 422
    when it holds more than `max_separators` brackets, braces and commas (`bound` says why that many)."""
    raw = data.encode() if isinstance(data, str) else data
    separators = raw.count(b"[") + raw.count(b"{") + raw.count(b",")
    if separators > max_separators:
        raise ServiceError(
            422, f"{what} holds {separators} brackets, braces and commas; {bound} {max_separators}"
        )
    try:
        return pydantic_core.from_json(raw)
    except ValueError as error:  # bad syntax or UTF-8, nesting over its limit, a number out of range
        raise ServiceError(400, f"{what} is not valid JSON: {error}") from error


def decode_base64(text: str, what: str = "image_base64") -> bytes:
    """Bytes of base64 text; line breaks and spaces are allowed (MIME wraps lines), other characters not."""
    try:
        encoded = text.encode("ascii")
    except UnicodeEncodeError as error:
        raise ServiceError(400, f"{what} is not valid base64: {error}") from error
    encoded = b"".join(_chunks(encoded, lambda chunk: chunk.translate(None, _BASE64_WHITESPACE)))
    if len(encoded) % 4:
        raise ServiceError(400, f"{what} is not valid base64: its length is not a multiple of 4")
    try:
        return b"".join(_chunks(encoded, lambda chunk: binascii.a2b_base64(chunk, strict_mode=True)))
    except binascii.Error as error:
        raise ServiceError(400, f"{what} is not valid base64: {error}") from error


def _chunks(data: bytes, step: Callable[[bytes], bytes]) -> Iterator[bytes]:
    """`step` of each _BASE64_CHUNK-byte piece: one short GIL hold per piece."""
    for start in range(0, len(data), _BASE64_CHUNK):
        yield step(data[start : start + _BASE64_CHUNK])
