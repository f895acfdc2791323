"""Time core.codec.HeatmapCodec.decode on flip pairs (target: 64 pairs in under 5 ms on the CI machine).

Usage: python benchmarks/decode_speed.py [--persons 64] [--repeats 200]
"""

import argparse
import platform
import time

import numpy as np

from core.codec import HeatmapCodec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    codec = HeatmapCodec()
    shape = (args.persons, 16, codec.heatmap_size, codec.heatmap_size)
    heatmaps = rng.random(shape, dtype=np.float32)
    flipped = rng.random(shape, dtype=np.float32)
    centers = rng.uniform(100, 900, (args.persons, 2))
    scales = rng.uniform(1, 5, args.persons)

    codec.decode(heatmaps, centers, scales, flipped)  # warm-up
    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        codec.decode(heatmaps, centers, scales, flipped)
        timings.append(time.perf_counter() - start)
    timings_ms = np.array(timings) * 1000
    print(f"machine: {platform.machine()} {platform.processor() or ''}, numpy {np.__version__}")
    print(
        f"decode {args.persons} flip pairs ({shape[1]}x{shape[2]}x{shape[3]}): "
        f"median {np.median(timings_ms):.2f} ms, p90 {np.percentile(timings_ms, 90):.2f} ms, "
        f"min {timings_ms.min():.2f} ms over {args.repeats} runs (target < 5 ms)"
    )


if __name__ == "__main__":
    main()
