"""Time per crop of model versions (fp32, int8) on the service's backends, measured in interleaved rounds.

    python benchmarks/precision_speed.py --model-repo REPO --model NAME --versions 6 7 \
        [--backends onnxruntime openvino] [--batch 2] [--rounds 10] [--calls 3]

Each (backend, version) is loaded through the service's own backend factory with default settings. The
rounds visit every pair in turn, so that a load change on a shared machine hits them all alike; each
round times `--calls` calls on one batch of random crops (default 2: one person and its flip copy) and
the median over rounds is printed, with the ratio to the first version on the same backend.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from core.model_repo import read_metadata  # noqa: E402
from runtime.backends import BACKENDS, Backend, create_backend  # noqa: E402
from runtime.options import RuntimeOptions  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-repo", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--versions", type=int, nargs="+", required=True)
    parser.add_argument("--backends", nargs="+", choices=list(BACKENDS), default=["onnxruntime", "openvino"])
    parser.add_argument("--batch", type=int, default=2, help="crops per call")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=3, help="calls timed per round")
    args = parser.parse_args(argv)

    loaded: dict[tuple[str, int], Backend] = {}
    labels: dict[int, str] = {}
    size = 0
    for version in args.versions:
        version_dir = args.model_repo / args.model / str(version)
        metadata = read_metadata(version_dir)
        size = metadata.input.height
        labels[version] = f"{args.model}:{version} {metadata.precision}"
        for backend in args.backends:
            loaded[(backend, version)] = create_backend(backend, version_dir, RuntimeOptions(backend=backend))
    crops = np.random.default_rng(0).random((args.batch, size, size, 3), np.float32)
    for backend in loaded.values():
        backend.infer(crops)  # warm-up: kernel selection, allocations
    seconds: dict[tuple[str, int], list[float]] = {key: [] for key in loaded}
    for _ in range(args.rounds):
        for key, backend in loaded.items():
            started = time.perf_counter()
            for _ in range(args.calls):
                backend.infer(crops)
            seconds[key].append((time.perf_counter() - started) / args.calls / args.batch)

    print(f"{size} px, batch {args.batch}, {args.rounds} rounds x {args.calls} calls, cpus {os.cpu_count()}")
    for backend_name in args.backends:
        first = statistics.median(seconds[(backend_name, args.versions[0])])
        for version in args.versions:
            key = (backend_name, version)
            median = statistics.median(seconds[key])
            print(
                f"{backend_name:<12} {labels[version]:<22} devices {','.join(loaded[key].devices):<22} "
                f"{1000 * median:7.1f} ms/crop (median; min {1000 * min(seconds[key]):.1f})  "
                f"x{first / median:.2f} vs {labels[args.versions[0]]}"
            )
    for backend in loaded.values():
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
