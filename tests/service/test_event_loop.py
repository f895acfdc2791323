"""The event loop keeps answering while large request bodies are parsed: /health/live within 100 ms, on
`python -m service` in its own process (so the test's clients do not share its GIL)."""

import base64
import json
import os
import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.slow

LIVE_WITHIN_S = 0.1
ATTEMPTS = 3


def liveness_latencies_during(url: str, send: "threading.Thread") -> list[float]:
    """Seconds each /health/live took while `send` ran (probes back to back on one connection)."""
    latencies = []
    with httpx.Client(timeout=10) as client:
        client.get(f"{url}/health/live")  # connect first
        send.start()
        while send.is_alive():
            started = time.perf_counter()
            assert client.get(f"{url}/health/live").status_code == 200
            latencies.append(time.perf_counter() - started)
    send.join()
    return latencies


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # 19 MB of base64: parsed, decoded in chunks, then found not to be an image
        (json.dumps({"image_base64": base64.b64encode(os.urandom(14 * 2**20)).decode(), "persons": [
            {"box": [1, 2, 3, 4]}]}).encode(), 400),
        # 700,000 boxes in 16 MB: refused by counting before json.loads builds them
        (json.dumps({"image_base64": "", "persons": [{"box": [1, 2, 3, 4]}] * 700_000}).encode(), 422),
    ],
    ids=["large-image", "many-boxes"],
)  # fmt: skip
def test_health_answers_within_100_ms_while_a_large_body_is_parsed(
    running_service: str, body: bytes, status: int
) -> None:
    """Best of ATTEMPTS: on the shared 2-core machine the scheduler alone sometimes holds one probe past
    100 ms (probes without any large request reach ~45 ms); a loop blocked by parsing fails every attempt
    (before, json.loads and pydantic held it for 7 s on a body of 1,000,000 boxes)."""
    slowest = []
    responses: list[httpx.Response] = []

    def send() -> None:
        headers = {"content-type": "application/json"}
        responses.append(httpx.post(f"{running_service}/v1/pose", content=body, headers=headers, timeout=120))

    for _ in range(ATTEMPTS):
        latencies = liveness_latencies_during(running_service, threading.Thread(target=send))
        assert responses[-1].status_code == status, responses[-1].text[:300]
        assert latencies, "the large request finished before any probe"
        slowest.append(max(latencies))
        if slowest[-1] < LIVE_WITHIN_S:
            break
    assert min(slowest) < LIVE_WITHIN_S, (
        f"slowest /health/live per attempt: {[round(s * 1000) for s in slowest]} ms"
    )
