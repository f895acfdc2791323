"""Decoding speed of runtime.video.decode: frames per second and milliseconds per frame, per format.

    python benchmarks/video_decode.py [--frames 120] [--height 720] [--threads 0]

The clip is the MPII camera clip of tests/video_clips.py (a real photograph panned and zoomed) at the
given height (16:9), encoded once per container and codec in memory; the figure is the best of three
full decodes to RGB arrays, opening included.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from video_clips import CLIP_FORMATS, encode_clip, mpii_camera_clip  # noqa: E402

from runtime.video.decode import VideoReader  # noqa: E402
from runtime.video.encode import preferred_codec  # noqa: E402

ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--threads", type=int, default=0, help="decoder threads; 0: one per core")
    args = parser.parse_args()
    size = (args.height, args.height * 16 // 9 // 2 * 2)
    clip = mpii_camera_clip(0, frame_count=args.frames, size=size)
    print(f"{args.frames} frames of {size[1]}x{size[0]}, {platform.processor() or platform.machine()}")
    for container, codec in CLIP_FORMATS:
        data = encode_clip(clip, container, codec)
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            with VideoReader(data, threads=args.threads) as reader:
                count = sum(1 for _ in reader.frames())
            best = min(best, time.perf_counter() - start)
        name = f"{container}/{codec or preferred_codec(container)}"
        rate = f"{count / best:7.1f} frames/s  {1000 * best / count:6.2f} ms/frame"
        print(f"{name:22s} {rate}  {len(data) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
