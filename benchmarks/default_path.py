"""Requests per second of what `make serve` serves by default, against a baseline, in paired rounds.

    python benchmarks/default_path.py --model-repo model_repo [--baseline-tree DIR] [--concurrency 8]
        [--seconds 10] [--rounds 3]

Both services run `python -m service` with default settings on the same repository and get service_latency's
request (an MPII 1280x720 JPEG, one person, flip) with no model version named, from `--concurrency` clients
on the same machine: each serves its default version on the backend its settings choose. The candidate is
this checkout. The baseline is the checkout at `--baseline-tree` (e.g. a `git worktree` of main),
or, without one, this checkout with HGPOSE_BACKEND=onnxruntime (every version on onnxruntime, so the default
is the newest fp32 one). Each round measures the baseline then the candidate; the median of the rounds'
ratios is the result. The first answer of each names the version, precision and backend it served.
"""

import argparse
import os
import signal
import statistics
import sys
from pathlib import Path

import httpx
from service_latency import REPO_ROOT, request_body, service_throughput, start_service

from runtime.repository.folders import version_folders


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-repo", type=Path, default=REPO_ROOT / "model_repo")
    parser.add_argument("--model", help="model name (default: the first in the repository)")
    parser.add_argument(
        "--baseline-tree", type=Path, help="the checkout to compare with (default: see above)"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    model = args.model or next(iter(version_folders(args.model_repo)))[0]
    request = request_body(model)
    baseline_env = {} if args.baseline_tree else {"HGPOSE_BACKEND": "onnxruntime"}
    sides = {
        "baseline": start_service(args.model_repo, None, baseline_env, args.baseline_tree or REPO_ROOT),
        "candidate": start_service(args.model_repo, None),
    }
    rates: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for name, (_, url) in sides.items():
            served = httpx.post(
                f"{url}{request.path}", content=request.body, headers=request.headers, timeout=120
            )
            served.raise_for_status()
            print(f"{name}: {served.json()['model']}")
            service_throughput(url, request, args.concurrency, 3.0)  # warm-up
        print(f"cpus {os.cpu_count()}, concurrency {args.concurrency}, {args.seconds:g} s per side and round")
        for index in range(args.rounds):
            for name, (_, url) in sides.items():
                rates[name].append(service_throughput(url, request, args.concurrency, args.seconds))
            print(f"round {index + 1}: requests/s baseline {rates['baseline'][-1]:.2f}, "
                  f"candidate {rates['candidate'][-1]:.2f}")  # fmt: skip
    finally:
        for process, _ in sides.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    ratios = [c / b for b, c in zip(rates["baseline"], rates["candidate"], strict=True)]
    print(f"candidate / baseline, median of {len(ratios)} rounds = {statistics.median(ratios):.2f} "
          f"[{min(ratios):.2f}..{max(ratios):.2f}]")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
