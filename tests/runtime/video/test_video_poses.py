"""The orchestrator on clips with known truth, the pose model and the detector answered from it
(ground_truth_model.py: a test of tracking, smoothing and pipelining, not a double of hardware)."""

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from ground_truth_model import MIN_JOINTS_FOUND, GroundTruthModel
from video_clips import Clip, Walker, encode_clip, mean_acceleration, mean_error

from runtime.errors import InvalidInputError
from runtime.video.decode import VideoReader
from runtime.video.errors import CorruptVideoError
from runtime.video.orchestrator import FramePoses, VideoPoseOptions, track_poses
from runtime.video.threaded import iterate_in_thread
from runtime.video.tracking import TrackingOptions

MATCH_PX = 12.0  # a result within this mean distance of a true person is that person


def _run(
    model: GroundTruthModel, options: VideoPoseOptions, frames: AsyncIterator | None = None
) -> list[FramePoses]:  # type: ignore[type-arg]
    async def collect() -> list[FramePoses]:
        return [
            result
            async for result in track_poses(frames or model.frames(), model.estimate, model.detect, options)
        ]

    return asyncio.run(collect())


def _identities(results: list[FramePoses], clip: Clip) -> dict[int, dict[int, int]]:
    """For each true person, frame -> the track ID of the result lying on them."""
    found: dict[int, dict[int, int]] = {person: {} for person in range(clip.joints.shape[1])}
    for result in results:
        truth, visible = clip.joints[result.index], clip.visible[result.index]
        for pose in result.persons:
            distances = [
                np.linalg.norm(pose.keypoints[visible[p]] - truth[p][visible[p]], axis=-1).mean()
                if visible[p].sum() >= MIN_JOINTS_FOUND else np.inf
                for p in range(len(truth))
            ]  # fmt: skip
            person = int(np.argmin(distances))
            assert distances[person] < MATCH_PX, f"frame {result.index}: a pose on nobody"
            assert result.index not in found[person], f"frame {result.index}: person {person} twice"
            found[person][result.index] = pose.track_id
    return found


@pytest.mark.parametrize("in_flight", [1, 4])
def test_walkers_keep_their_ids_the_one_leaving_ends_and_the_newcomer_is_new(
    walkers_clip: tuple[Clip, tuple[Walker, ...]], in_flight: int
) -> None:
    clip, _ = walkers_clip
    options = VideoPoseOptions(max_frames_in_flight=in_flight)
    missed_limit = options.tracking.max_missed_frames
    results = _run(GroundTruthModel(clip, noise_px=2.0, delay_s=(0.0, 0.005)), options)
    assert [result.index for result in results] == list(range(len(clip.frames)))
    found = _identities(results, clip)
    findable = clip.visible.sum(axis=2) >= MIN_JOINTS_FOUND  # (F, P)

    ids = [set(found[person].values()) for person in range(3)]
    assert all(len(person_ids) == 1 for person_ids in ids), ids
    walker, leaver, newcomer = (person_ids.pop() for person_ids in ids)
    assert len({walker, leaver, newcomer}) == 3 and newcomer > max(walker, leaver)
    assert sorted(found[0]) == list(range(len(clip.frames)))  # walker 0 in every frame

    last_seen = max(found[1])
    assert np.flatnonzero(findable[:, 1]).max() - 3 <= last_seen  # followed until nearly out of sight
    ended_at = [result.index for result in results if leaver in result.ended_track_ids]
    assert ended_at == [last_seen + missed_limit + 1]
    assert all(leaver not in (p.track_id for p in r.persons) for r in results[last_seen + 1 :])

    first_seen = min(found[2])
    assert first_seen <= np.flatnonzero(findable[:, 2]).min() + 1
    assert results[first_seen].started_track_ids == (newcomer,)
    assert sorted(found[2]) == list(range(first_seen, len(clip.frames)))


@pytest.mark.parametrize(("in_flight", "detected"), [(1, [0, 10, 14, 20]), (3, [0, 1, 2, 10, 16, 20])])
def test_the_detector_runs_every_n_frames_and_after_a_weak_frame(
    steady_pair_clip: Clip, in_flight: int, detected: list[int]
) -> None:
    """Frame 13's poses score below weak_track_score: the frame planned from the state after it (the
    next one, or in_flight frames later) runs the detector. Frames planned before any state exists run
    it too."""
    model = GroundTruthModel(steady_pair_clip, weak_frames=frozenset({13}))
    options = VideoPoseOptions(TrackingOptions(detect_every=10), max_frames_in_flight=in_flight)
    results = _run(model, options)
    assert model.detect_calls == detected
    assert [result.index for result in results if result.detected] == detected
    assert all(len(result.persons) == 2 for result in results)


@pytest.mark.parametrize("in_flight", [1, 3, 6])
def test_frames_come_out_in_order_with_at_most_in_flight_estimates_pending(
    steady_pair_clip: Clip, in_flight: int
) -> None:
    model = GroundTruthModel(steady_pair_clip, delay_s=(0.0, 0.02), timing_seed=in_flight)
    results = _run(model, VideoPoseOptions(max_frames_in_flight=in_flight))
    assert [result.index for result in results] == list(range(len(steady_pair_clip.frames)))
    assert model.max_in_flight == in_flight
    assert [index for index, _ in model.estimate_calls] == list(range(len(steady_pair_clip.frames)))


def test_timing_does_not_change_the_results(walkers_clip: tuple[Clip, tuple[Walker, ...]]) -> None:
    clip, _ = walkers_clip
    options = VideoPoseOptions(max_frames_in_flight=4)
    runs = [_run(GroundTruthModel(clip, delay_s=(0.0, 0.01), timing_seed=seed), options) for seed in (1, 2)]
    for first, second in zip(*runs, strict=True):
        assert [p.track_id for p in first.persons] == [p.track_id for p in second.persons]
        for a, b in zip(first.persons, second.persons, strict=True):
            assert np.array_equal(a.box, b.box) and np.array_equal(a.smoothed, b.smoothed)


def test_a_decoded_real_clip_is_one_track_smoothed_towards_the_truth(mpii_clip: Clip) -> None:
    """The MPII person filmed by a panning, zooming camera, decoded from H.264 in a worker thread; joint
    noise of 3 % of the crop side the person fills (192 pixels)."""
    model = GroundTruthModel(mpii_clip, noise_px=0.03 * 192)

    async def decoded() -> AsyncIterator[tuple[int, float, np.ndarray]]:
        with VideoReader(encode_clip(mpii_clip, "mp4")) as reader:
            async for frame in iterate_in_thread(reader.frames()):
                yield model.register(*frame)

    results = _run(model, VideoPoseOptions(), decoded())
    assert [result.index for result in results] == list(range(len(mpii_clip.frames)))
    assert {pose.track_id for result in results for pose in result.persons} == {1}
    visible = mpii_clip.visible[:, 0]
    raw = np.stack([result.persons[0].keypoints for result in results])
    smoothed = np.stack([result.persons[0].smoothed for result in results])
    truth = mpii_clip.joints[:, 0]
    assert mean_error(smoothed, truth, visible) < mean_error(raw, truth, visible)
    assert mean_acceleration(smoothed) < 0.5 * mean_acceleration(raw)


def test_closing_early_cancels_pending_estimates_and_closes_the_source(steady_pair_clip: Clip) -> None:
    model = GroundTruthModel(steady_pair_clip, delay_s=5.0, frame_delays_s={0: 0.05})
    source_closed = asyncio.Event()

    async def frames() -> AsyncIterator[tuple[int, float, np.ndarray]]:
        try:
            async for frame in model.frames():
                yield frame
        finally:
            source_closed.set()

    async def first_only() -> FramePoses:
        results = track_poses(
            frames(), model.estimate, model.detect, VideoPoseOptions(max_frames_in_flight=4)
        )
        first = await anext(results)
        await results.aclose()  # type: ignore[attr-defined]
        return first

    assert asyncio.run(first_only()).index == 0
    assert source_closed.is_set()
    assert model.cancelled == 3 and model.in_flight == 0  # frames 1-3 were pending


def test_frames_out_of_order_and_wrong_estimates_are_refused(steady_pair_clip: Clip) -> None:
    model = GroundTruthModel(steady_pair_clip)

    async def backwards() -> AsyncIterator[tuple[int, float, np.ndarray]]:
        yield model.register(5, 0.2, steady_pair_clip.frames[5])
        yield model.register(4, 0.16, steady_pair_clip.frames[4])

    with pytest.raises(InvalidInputError, match=r"frame 4 at 0\.16 s came after frame 5"):
        _run(model, VideoPoseOptions(), backwards())

    async def wrong_estimate(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((len(boxes), 15, 2)), np.zeros((len(boxes), 15))

    async def collect() -> list[FramePoses]:
        return [
            r async for r in track_poses(model.frames(), wrong_estimate, model.detect, VideoPoseOptions())
        ]

    with pytest.raises(ValueError, match="boxes need keypoints"):
        asyncio.run(collect())


def test_when_the_source_fails_the_frames_read_before_are_answered_then_the_error_raised(
    steady_pair_clip: Clip,
) -> None:
    model = GroundTruthModel(steady_pair_clip, delay_s=0.01)

    async def damaged() -> AsyncIterator[tuple[int, float, np.ndarray]]:
        async for frame in model.frames():
            if frame[0] == 6:
                raise CorruptVideoError("the video's data is damaged at frame 6")
            yield frame

    answered: list[int] = []

    async def collect() -> None:
        async for result in track_poses(damaged(), model.estimate, model.detect, VideoPoseOptions()):
            answered.append(result.index)

    with pytest.raises(CorruptVideoError, match="damaged at frame 6"):
        asyncio.run(collect())
    assert answered == list(range(6))
