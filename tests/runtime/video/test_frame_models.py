"""Video frames on the served models (the tiny test pose model and the shipped person detector, on
onnxruntime): a frame's estimate and detection are the image pipeline's on the same pixels, a full queue
makes a frame wait instead of failing, and a video holds its models and one of the video slots."""

import asyncio
import io
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from helpers import MPII_IMAGES, REPO_ROOT
from PIL import Image

from runtime.engine import PoseRuntime
from runtime.errors import DeadlineExceededError, NoDetectorError, QueueFullError
from runtime.options import BatchingOptions, RuntimeOptions
from runtime.pipeline.regions import PersonSpec

pytestmark = pytest.mark.slow

DETECTOR = REPO_ROOT / "model_repo" / "person_detector" / "1"
FRAME = np.asarray(Image.open(MPII_IMAGES / "005808361.jpg").convert("RGB").resize((640, 360)))
BOXES = np.array([[350.0, 30.0, 590.0, 350.0], [20.0, 40.0, 200.0, 300.0]])
T = TypeVar("T")


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def repo(tiny_model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frames") / "repo"
    shutil.copytree(tiny_model_repo, root)
    shutil.copytree(DETECTOR, root / "person_detector" / "1")
    return root


def _with_runtime(options: RuntimeOptions, body: Callable[[PoseRuntime], Awaitable[T]]) -> T:
    async def run() -> T:
        runtime = PoseRuntime(options)
        await runtime.start()
        try:
            return await body(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


def test_a_frame_gets_the_keypoints_and_detections_the_image_pipeline_gives_its_pixels(repo: Path) -> None:
    async def body(runtime: PoseRuntime) -> None:
        with runtime.lease_frame_models(None, None, flip=True) as frames:
            keypoints, scores = await frames.estimate(FRAME, BOXES)
            boxes, box_scores = await frames.detect(FRAME)
        assert frames.detector_runs == 1
        with runtime.lease(None, None) as model:
            persons = [PersonSpec(box=tuple(box)) for box in BOXES]
            image = await runtime.estimate(model, _png(FRAME), persons, True, runtime.deadline())
        np.testing.assert_allclose(keypoints, image.keypoints.image_xy, atol=1e-4)
        np.testing.assert_allclose(scores, image.keypoints.scores, atol=1e-6)
        _, found = await runtime.detect(_png(FRAME), runtime.deadline())
        assert len(boxes) >= 1
        np.testing.assert_allclose(boxes, [region.box for region in found.found.regions], atol=1e-3)
        np.testing.assert_allclose(box_scores, [region.score for region in found.found.regions], atol=1e-6)

    _with_runtime(RuntimeOptions(model_repo=repo, backend="onnxruntime"), body)


def test_given_first_boxes_stand_in_for_the_detector_once_and_a_video_needs_persons_or_a_detector(
    repo: Path, tiny_model_repo: Path
) -> None:
    async def with_detector(runtime: PoseRuntime) -> None:
        with runtime.lease_frame_models(None, None, True, first_boxes=BOXES[:1]) as frames:
            given, scores = await frames.detect(FRAME)
            assert np.array_equal(given, BOXES[:1]) and scores.tolist() == [1.0]
            assert frames.detector_runs == 0
            found, _ = await frames.detect(FRAME)
            assert frames.detector_runs == 1 and len(found) >= 1

    _with_runtime(RuntimeOptions(model_repo=repo, backend="onnxruntime"), with_detector)

    async def without_detector(runtime: PoseRuntime) -> None:
        with pytest.raises(NoDetectorError), runtime.lease_frame_models(None, None, True):
            pass
        with runtime.lease_frame_models(None, None, True, first_boxes=BOXES) as frames:
            assert frames.detector is None
            assert len((await frames.detect(FRAME))[0]) == 2
            boxes, scores = await frames.detect(FRAME)
            assert boxes.shape == (0, 4) and scores.shape == (0,)

    _with_runtime(RuntimeOptions(model_repo=tiny_model_repo, backend="onnxruntime"), without_detector)


def test_videos_beyond_the_limit_are_refused_and_a_finished_one_frees_its_slot(tiny_model_repo: Path) -> None:
    async def body(runtime: PoseRuntime) -> None:
        with (
            runtime.lease_frame_models(None, None, True, first_boxes=BOXES),
            pytest.raises(QueueFullError, match="1 videos and streams"),
            runtime.lease_frame_models(None, None, True, first_boxes=BOXES),
        ):
            pass
        with runtime.lease_frame_models(None, None, True, first_boxes=BOXES):
            pass

    options = RuntimeOptions(model_repo=tiny_model_repo, backend="onnxruntime", max_concurrent_videos=1)
    _with_runtime(options, body)


def test_a_frame_waits_for_room_in_a_full_queue_and_gives_up_at_its_deadline(tiny_model_repo: Path) -> None:
    """The queue holds 4 crops and all 4 are reserved: the frame's 2 crops (one box, flipped) wait until
    room is given back, then run; with no room by its deadline the frame fails with a deadline error."""

    async def body(runtime: PoseRuntime) -> None:
        with runtime.lease_frame_models(None, None, True, first_boxes=BOXES) as frames:
            batcher = frames.model.batcher
            taken = batcher.reserve(4)
            waiting = asyncio.ensure_future(frames.estimate(FRAME, BOXES[:1]))
            await asyncio.sleep(0.1)
            assert not waiting.done()
            batcher.release(taken)
            keypoints, _ = await asyncio.wait_for(waiting, 30)
            assert keypoints.shape == (1, 16, 2)

            taken = batcher.reserve(4)
            with pytest.raises(DeadlineExceededError, match="room in the inference queue"):
                await frames.estimate(FRAME, BOXES[:1])
            batcher.release(taken)

    options = RuntimeOptions(
        model_repo=tiny_model_repo,
        backend="onnxruntime",
        batching=BatchingOptions(queue_size=4),
        request_deadline_s=0.3,
    )
    _with_runtime(options, body)
