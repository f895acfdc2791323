"""Time core.codec.HeatmapCodec.decode on flip pairs (target: 64 pairs in under 5 ms on the CI machine).

Usage: python benchmarks/decode_speed.py [--persons 64] [--repeats 200] [--threads N]
"""

import argparse
import platform
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from core.codec import HeatmapCodec
from runtime.options import RuntimeOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument(
        "--threads",
        type=int,
        default=RuntimeOptions().keypoint_threads,
        help="as the runtime's keypoint_threads",
    )
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    codec = HeatmapCodec()
    shape = (args.persons, 16, codec.heatmap_size, codec.heatmap_size)
    heatmaps = rng.random(shape, dtype=np.float32)
    flipped = rng.random(shape, dtype=np.float32)
    centers = rng.uniform(100, 900, (args.persons, 2))
    scales = rng.uniform(1, 5, args.persons)

    with ThreadPoolExecutor(max(args.threads - 1, 1)) as pool:
        helpers = (pool, args.threads - 1) if args.threads > 1 else None
        codec.decode(heatmaps, centers, scales, flipped, helpers=helpers)  # warm-up
        timings = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            codec.decode(heatmaps, centers, scales, flipped, helpers=helpers)
            timings.append(time.perf_counter() - start)
    timings_ms = np.array(timings) * 1000
    print(f"machine: {platform.machine()} {platform.processor() or ''}, numpy {np.__version__}")
    print(
        f"decode {args.persons} flip pairs ({shape[1]}x{shape[2]}x{shape[3]}): "
        f"median {np.median(timings_ms):.2f} ms, p90 {np.percentile(timings_ms, 90):.2f} ms, "
        f"min {timings_ms.min():.2f} ms over {args.repeats} runs on {args.threads} thread(s) (target < 5 ms)"
    )


if __name__ == "__main__":
    main()
