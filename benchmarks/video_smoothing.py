"""What the One-Euro filter's settings do to noisy joints: error against the truth, frame-to-frame
acceleration, and the jitter left at rest.

    python benchmarks/video_smoothing.py [--min-cutoff 1.0] [--beta 2.0] [--d-cutoff 1.0]

The moving case is walker 0 of the synthetic test clip (tests/video_clips.py: 100 frames at 25 fps, a
figure 120 pixels tall walking and changing pose) with Gaussian noise of 1, 2 and 3 % of its height added
to its true joints; the resting case is the same noise around a still point. Deterministic (seeded).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from video_clips import mean_acceleration, mean_error, two_walkers_and_a_newcomer  # noqa: E402

from runtime.video.smoothing import OneEuroOptions, smooth_sequence  # noqa: E402

PERSON_PX = 120.0
NOISE_SHARES = (0.01, 0.02, 0.03)
REST_FRAMES = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = OneEuroOptions()
    parser.add_argument("--min-cutoff", type=float, default=defaults.min_cutoff_hz)
    parser.add_argument("--beta", type=float, default=defaults.beta)
    parser.add_argument("--d-cutoff", type=float, default=defaults.d_cutoff_hz)
    args = parser.parse_args()
    options = OneEuroOptions(args.min_cutoff, args.beta, args.d_cutoff)
    clip, _ = two_walkers_and_a_newcomer(frame_count=100)
    truth = clip.joints[:, 0]
    rng = np.random.default_rng(0)
    print(f"{options}")
    print("noise  error raw -> smoothed (px)  acceleration raw -> smoothed (px/frame²)  jitter at rest")
    for share in NOISE_SHARES:
        noisy = truth + rng.normal(0.0, share * PERSON_PX, truth.shape)
        smoothed = smooth_sequence(noisy, clip.times, options, PERSON_PX)
        still = rng.normal(0.0, share * PERSON_PX, (REST_FRAMES, *truth.shape[1:]))
        rest = smooth_sequence(still, np.arange(REST_FRAMES) / clip.fps, options, PERSON_PX)[50:]
        print(
            f"{share:4.0%}   {mean_error(noisy, truth):5.2f} -> {mean_error(smoothed, truth):5.2f}"
            f"                {mean_acceleration(noisy):6.2f} -> {mean_acceleration(smoothed):5.2f}"
            f"                          x {rest.std() / still[50:].std():.2f}"
        )


if __name__ == "__main__":
    main()
