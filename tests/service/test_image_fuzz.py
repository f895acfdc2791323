"""Mutated image files (cut short, bits flipped, PNG chunk lengths changed; seeded, so that every run feeds
the same cases) never crash decoding: the decoder answers an image or one of the runtime's errors, and
/v1/pose answers JSON below 500. A bounded run: a few seconds per format."""

import json

import httpx
import pytest
from malformed_images import encoded, mutations, sample_pixels

from runtime.errors import PoseRuntimeError
from runtime.pipeline.images import decode_image
from service.errors import runtime_status

FORMATS = {
    "JPEG": encoded("JPEG", quality=90),
    "PNG": encoded("PNG"),
    "WEBP": encoded("WEBP", quality=80),
    "BMP": encoded("BMP"),
}
DECODER_CASES = 2000
HTTP_CASES = 300
SEED = 7
MAX_PIXELS = 40_000_000
CLIENT_STATUSES = {400, 413, 415, 422}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_decoder_answers_an_image_or_a_client_error(fmt: str) -> None:
    outcomes: dict[str, int] = {}
    for data in mutations(FORMATS[fmt], DECODER_CASES, SEED):
        try:
            image = decode_image(data, MAX_PIXELS)
            image.rgb_window(0, 0, image.width, image.height)
            outcome = "decoded"
        except PoseRuntimeError as error:
            assert runtime_status(error) in CLIENT_STATUSES, error.message
            outcome = str(runtime_status(error))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("400", 0) > 0, f"no mutation was refused: {outcomes}"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_pose_answers_mutated_images_with_json_below_500(service_url: str, fmt: str) -> None:
    height, width = sample_pixels().shape[:2]
    persons = [{"box": [0, 0, width, height]}]
    statuses = set()
    with httpx.Client(timeout=60) as client:
        responses = [
            client.post(
                f"{service_url}/v1/pose", files={"image": ("i", data)}, data={"persons": json.dumps(persons)}
            )
            for data in mutations(FORMATS[fmt], HTTP_CASES, SEED + 1)
        ]
    for response in responses:
        assert response.status_code == 200 or response.status_code in CLIENT_STATUSES, response.text[:300]
        assert response.headers["content-type"] == "application/json"
        if response.status_code != 200:
            assert response.json()["request_id"] == response.headers["x-request-id"]
        statuses.add(response.status_code)
    assert 400 in statuses
    assert httpx.get(f"{service_url}/health/ready").status_code == 200
