import numpy as np
import pytest
from video_clips import Clip, Walker, mean_acceleration, mean_error

from runtime.video.smoothing import OneEuroFilter, OneEuroOptions, smooth_sequence

PERSON_PX = 120.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_noisy_walk_is_steadier_and_no_further_from_the_truth(
    walkers_clip: tuple[Clip, tuple[Walker, ...]], seed: int
) -> None:
    """Joint noise of 3 % of the person's height; at 1 % the default filter's lag costs more than the
    noise it removes (benchmarks/video_smoothing.py prints both)."""
    clip, _ = walkers_clip
    truth = clip.joints[:, 0]  # walker 0 is in every frame: (F, 16, 2)
    noisy = truth + np.random.default_rng(seed).normal(0.0, 0.03 * PERSON_PX, truth.shape)
    smoothed = smooth_sequence(noisy, clip.times, scale=PERSON_PX)
    assert mean_acceleration(smoothed) < 0.5 * mean_acceleration(noisy)
    assert mean_error(smoothed, truth) <= mean_error(noisy, truth)


def test_a_step_is_followed_fast_where_a_plain_low_pass_lags() -> None:
    times = np.arange(50) / 25.0
    step = np.where(times[:, None, None] >= 1.0, 60.0, 0.0) * np.ones((1, 16, 2))
    one_euro = smooth_sequence(step, times, scale=PERSON_PX)
    plain = smooth_sequence(
        step, times, OneEuroOptions(beta=0.0), PERSON_PX
    )  # the same filter without speed adaptation
    after = np.flatnonzero(times >= 1.0)
    remaining = 60.0 - one_euro[after, 0, 0]
    assert np.all(np.diff(one_euro[:, 0, 0]) >= 0) and np.all(one_euro <= 60.0)  # no overshoot
    assert remaining[4] < 0.05 * 60.0  # within 5 % of the step 4 frames (160 ms) later
    assert remaining[2] < 0.5 * (60.0 - plain[after[2], 0, 0])


def test_real_frame_intervals_count_not_frame_numbers() -> None:
    """A continuous path sampled at 100 fps, with a third of its frames dropped at random, is smoothed
    as it is at 25 fps (the filter discretises one continuous-time filter); read as 25 fps, the same
    samples give another path."""
    rng = np.random.default_rng(3)
    fine = np.arange(200) / 100.0
    kept = np.sort(np.concatenate([np.arange(0, 200, 4), rng.choice(200, 80, replace=False)]))
    kept = np.unique(kept)
    amplitude = 30.0

    def path(times: np.ndarray) -> np.ndarray:
        wave = amplitude * np.sin(2 * np.pi * 1.5 * times)
        return np.stack([wave, 0.5 * wave], axis=-1)[:, None, :] * np.ones((1, 16, 1))

    coarse = smooth_sequence(path(fine[::4]), fine[::4], scale=PERSON_PX)
    irregular = smooth_sequence(path(fine[kept]), fine[kept], scale=PERSON_PX)
    common = np.isin(kept, np.arange(0, 200, 4))
    difference = np.abs(irregular[common] - coarse).mean()
    assert difference < 0.03 * amplitude
    misread = smooth_sequence(path(fine[kept]), np.arange(len(kept)) / 25.0, scale=PERSON_PX)
    assert np.abs(misread[common] - coarse).mean() > 3 * difference


def test_many_persons_at_once_filter_as_each_alone() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(0, 5, size=(30, 3, 16, 2)).cumsum(axis=0)
    scales = np.array([[60.0], [120.0], [300.0]])
    together = OneEuroFilter()
    alone = [OneEuroFilter() for _ in range(3)]
    for index, value in enumerate(values):
        batch = together(value, index / 30, scales)
        for person, smoother in enumerate(alone):
            assert np.allclose(batch[person], smoother(value[person], index / 30, scales[person, 0]))


def test_time_may_stand_still_but_not_go_back() -> None:
    smoother = OneEuroFilter()
    first = smoother(np.zeros((16, 2)), 1.0)
    moved = smoother(np.full((16, 2), 10.0), 1.04)
    assert np.array_equal(smoother(np.full((16, 2), 99.0), 1.04), moved)
    assert not np.array_equal(first, moved)
    with pytest.raises(ValueError, match="backwards"):
        smoother(np.zeros((16, 2)), 1.0)
    with pytest.raises(ValueError):
        OneEuroOptions(min_cutoff_hz=0.0)
