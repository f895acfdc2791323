"""Batching, back-pressure (503) and deadlines (504) through the real HTTP service."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import post_pose
from service_helpers import (
    encode_image,
    oracle_keypoints,
    random_image,
    response_keypoints,
    wait_for_queued_crops,
)

from core.geometry import box_to_center_scale

pytestmark = pytest.mark.slow


def test_concurrent_requests_are_batched_and_each_gets_its_own_result(serve, tiny_model_repo: Path) -> None:
    url = serve(max_batch=16, max_wait_ms=300)
    cases = []
    for i in range(6):
        pixels = random_image(90 + 10 * i, 120, seed=100 + i)
        box = [5 + 3 * i, 8, 100 - 2 * i, 80 + 5 * i]
        cases.append((pixels, box))

    with ThreadPoolExecutor(len(cases)) as pool:
        responses = list(
            pool.map(lambda c: post_pose(url, encode_image(c[0], "PNG"), [{"box": c[1]}]), cases)
        )

    for (pixels, box), response in zip(cases, responses, strict=True):
        assert response.status_code == 200, response.text
        center, scale = box_to_center_scale(np.array(box, float))
        expected = oracle_keypoints(tiny_model_repo / "tiny" / "1", pixels, center[None], np.array([scale]))
        xy, scores = response_keypoints(response.json())
        np.testing.assert_allclose(xy, expected.image_xy, atol=1e-4)
        np.testing.assert_allclose(scores, expected.scores, atol=1e-5)
        assert response.json()["image"]["height"] == pixels.shape[0]
    metrics = httpx.get(f"{url}/metrics").text
    batches = float(re.search(r'hgpose_batch_size_count\{model="tiny:1"\} (\S+)', metrics).group(1))
    crops = float(re.search(r'hgpose_batch_size_sum\{model="tiny:1"\} (\S+)', metrics).group(1))
    assert crops == 12
    assert batches < 6, "no two requests shared a batch"


def test_full_queue_is_503_with_retry_after(serve) -> None:
    url = serve(queue_size=4, max_persons=2, max_batch=16, max_wait_ms=4000, retry_after_s=3)
    image = encode_image(random_image(64, 64, seed=1), "PNG")
    person = [{"box": [5, 5, 60, 60]}]
    results: list[httpx.Response] = []
    waiting = [
        threading.Thread(target=lambda: results.append(post_pose(url, image, person))) for _ in range(2)
    ]
    for thread in waiting:
        thread.start()
    wait_for_queued_crops(url, 4)  # both wait (2 crops each with flip) for the batch to fill

    refused = post_pose(url, image, person)
    # Admission comes before the image is looked at: bytes that are no image are refused for the queue too.
    refused_before_decoding = post_pose(url, b"not an image", person)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "3"
    assert "queue is full" in refused.json()["detail"]
    assert refused_before_decoding.status_code == 503, refused_before_decoding.text
    for thread in waiting:
        thread.join()
    assert [r.status_code for r in results] == [200, 200]


def test_decodes_run_at_most_max_concurrent_decodes_at_once(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.pipeline import pose as pipeline

    running = 0
    most = 0
    lock = threading.Lock()
    decode = pipeline.decode_image

    def counting_decode(data: bytes, max_pixels: int):  # the real decoder, counted
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.2)
        try:
            return decode(data, max_pixels)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(pipeline, "decode_image", counting_decode)
    url = serve(max_concurrent_decodes=2)
    image = encode_image(random_image(64, 64, seed=3), "PNG")
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: post_pose(url, image, [{"box": [5, 5, 60, 60]}]), range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    assert most == 2


def test_request_past_its_deadline_is_504_and_its_crops_never_run(serve) -> None:
    url = serve(request_deadline_ms=300, max_batch=16, max_wait_ms=5000)
    image = encode_image(random_image(64, 64, seed=2), "PNG")
    started = time.monotonic()
    late = post_pose(url, image, [{"box": [5, 5, 60, 60]}])
    assert late.status_code == 504
    assert "deadline of 300 ms" in late.json()["detail"]
    assert time.monotonic() - started < 4.0, "the deadline did not cut the 5 s batch wait short"
    metrics = httpx.get(f"{url}/metrics").text
    assert 'hgpose_queued_crops{model="tiny:1"} 0.0' in metrics
    assert 'hgpose_batch_size_count{model="tiny:1"} 0.0' in metrics
