"""The live stream's sequential tracker against the orchestrator with one frame in flight: the same plan,
the same tracks, the same smoothing (ground_truth_model.py answers estimate and detect from the clip's
truth: a test of tracking, not a double of hardware)."""

import asyncio

import numpy as np
from ground_truth_model import GroundTruthModel
from video_clips import Clip, Walker

from runtime.video.live import LiveTracker
from runtime.video.orchestrator import FramePoses, VideoPoseOptions, track_poses
from runtime.video.tracking import TrackingOptions


def _live(model: GroundTruthModel, options: VideoPoseOptions, indices: list[int]) -> list[FramePoses]:
    async def run() -> list[FramePoses]:
        tracker = LiveTracker(model.estimate, model.detect, options)
        frames, times = model.clip.frames, model.clip.times
        return [await tracker.track(*model.register(i, float(times[i]), frames[i])) for i in indices]

    return asyncio.run(run())


def _pipelined(model: GroundTruthModel, options: VideoPoseOptions) -> list[FramePoses]:
    async def run() -> list[FramePoses]:
        return [result async for result in track_poses(model.frames(), model.estimate, model.detect, options)]

    return asyncio.run(run())


def test_every_frame_tracked_live_is_tracked_as_the_orchestrator_does_with_one_frame_in_flight(
    walkers_clip: tuple[Clip, tuple[Walker, ...]],
) -> None:
    clip, _ = walkers_clip
    options = VideoPoseOptions(TrackingOptions(detect_every=7), max_frames_in_flight=1)
    live_model, pipelined_model = GroundTruthModel(clip), GroundTruthModel(clip)
    live = _live(live_model, options, list(range(len(clip.frames))))
    pipelined = _pipelined(pipelined_model, options)
    assert live_model.detect_calls == pipelined_model.detect_calls
    assert live_model.estimate_calls == pipelined_model.estimate_calls
    for a, b in zip(live, pipelined, strict=True):
        assert (a.index, a.detected, a.started_track_ids, a.ended_track_ids) == (
            b.index, b.detected, b.started_track_ids, b.ended_track_ids,
        )  # fmt: skip
        assert [p.track_id for p in a.persons] == [p.track_id for p in b.persons]
        for x, y in zip(a.persons, b.persons, strict=True):
            assert np.array_equal(x.box, y.box) and np.array_equal(x.smoothed, y.smoothed)
    assert {p.track_id for r in live for p in r.persons} == {1, 2, 3}


def test_frames_skipped_by_a_stream_keep_the_ids_and_the_smoothing_uses_the_real_times(
    steady_pair_clip: Clip,
) -> None:
    """Every third frame only, as a stream that drops two of three frames: the two people keep IDs 1 and 2,
    and the smoothed joints stay within 5 pixels of the truth on average."""
    indices = list(range(0, len(steady_pair_clip.frames), 3))
    results = _live(GroundTruthModel(steady_pair_clip, noise_px=1.0), VideoPoseOptions(), indices)
    assert [r.index for r in results] == indices
    assert all([p.track_id for p in r.persons] == [1, 2] for r in results)
    truth = steady_pair_clip.joints[indices]
    for person in range(2):
        smoothed = np.stack([r.persons[person].smoothed for r in results])
        nearest = int(np.argmin(np.linalg.norm(truth[0] - smoothed[0], axis=-1).mean(axis=-1)))
        error = np.linalg.norm(smoothed - truth[:, nearest], axis=-1).mean()
        assert error < 5.0
