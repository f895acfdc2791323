"""Images a decoder must refuse: each malformed file of tests/service/malformed_images.py is a 400 (or a 413),
never a crash; the PNG text limits are the runtime's; an MPO is read as its first picture."""

import io

import httpx
import numpy as np
import pytest
from helpers import post_pose
from malformed_images import MIB, corpus, mpo, png_with_text, sample_pixels
from PIL import Image, PngImagePlugin

from runtime.errors import PoseRuntimeError
from runtime.pipeline.images import PNG_TEXT_CHUNK_BYTES, PNG_TEXT_TOTAL_BYTES, decode_image
from service.errors import runtime_status

MAX_PIXELS = 40_000_000
CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_malformed_file_is_a_client_error(name: str) -> None:
    with pytest.raises(PoseRuntimeError) as error:
        decode_image(CORPUS[name], MAX_PIXELS)
    assert runtime_status(error.value) == 400, error.value.message
    assert error.value.message


def test_the_text_chunk_limits_are_the_runtimes() -> None:
    assert (PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY) == (
        PNG_TEXT_CHUNK_BYTES,
        PNG_TEXT_TOTAL_BYTES,
    )
    assert PNG_TEXT_TOTAL_BYTES < 64 * MIB  # below Pillow's own total, which a PNG under 1 MB can reach
    decode_image(png_with_text(PNG_TEXT_TOTAL_BYTES - MIB), MAX_PIXELS)  # under the limit: decoded
    with pytest.raises(PoseRuntimeError) as error:
        decode_image(png_with_text(PNG_TEXT_TOTAL_BYTES + MIB), MAX_PIXELS)
    assert runtime_status(error.value) == 400 and "text" in error.value.message


def test_an_mpo_is_read_as_its_first_picture() -> None:
    decoded = decode_image(mpo(frames=2), MAX_PIXELS)
    first = Image.open(io.BytesIO(mpo(frames=2)))  # frame 0, as JPEG decodes it
    np.testing.assert_array_equal(decoded.rgb_window(0, 0, 64, 48), np.asarray(first.convert("RGB")))
    assert not np.array_equal(np.asarray(first.convert("RGB")), sample_pixels(seed=1))


@pytest.mark.slow
def test_malformed_uploads_get_a_json_400_with_a_request_id(service_url: str) -> None:
    for name, data in CORPUS.items():
        response = post_pose(service_url, data, [{"box": [0, 0, 40, 40]}])
        assert response.status_code == 400, (name, response.text[:300])
        assert response.headers["content-type"] == "application/json", name
        assert response.json()["request_id"] == response.headers["x-request-id"], name
    assert post_pose(service_url, mpo(), [{"box": [0, 0, 40, 40]}]).status_code == 200
    assert httpx.get(f"{service_url}/health/ready").status_code == 200
