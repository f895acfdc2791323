"""Goodput of the service under overload (its admission target: service/README.md), on loopback, time-bounded.

    python benchmarks/overload_goodput.py --model-repo REPO [--seconds 20] [--levels 16 48]

Starts `python -m service` (onnxruntime, default settings), then for each concurrency level runs that many
closed-loop clients for `--seconds`: each sends the next request as soon as the last is answered, whatever
its status (a refused client retries at once, as a hostile or naive one does). The request is an MPII image
(1280x720 JPEG) with one person. Prints, per level, answers per second by status and the goodput (200s per
second), then goodput at the highest level / goodput at the lowest (target >= 0.9).
"""

import argparse
import collections
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_latency import REPO_ROOT, request_body, start_service

sys.path.insert(0, str(REPO_ROOT))
from runtime.repository.folders import version_folders

GOODPUT_TARGET_RATIO = 0.9


def run_level(url: str, body: bytes, headers: dict[str, str], clients: int, seconds: float) -> dict[int, int]:
    """Answers by status from `clients` closed-loop clients over `seconds`."""
    counts: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=120) as session:
            while time.monotonic() < stop_at:
                try:
                    status = session.post(f"{url}/v1/pose", content=body, headers=headers).status_code
                except httpx.TransportError:
                    status = 0
                if time.monotonic() <= stop_at:
                    with lock:
                        counts[status] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return dict(counts)


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--model-repo", type=Path, default=REPO_ROOT / "model_repo")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--levels", type=int, nargs="+", default=[16, 48])
    args = parser.parse_args()

    model = list(version_folders(args.model_repo))[-1][0]
    request = request_body(model)
    body, headers = request.body, request.headers
    process, url = start_service(args.model_repo, "onnxruntime")
    goodput: dict[int, float] = {}
    try:
        run_level(url, body, headers, 2, 3.0)  # warm-up
        for clients in sorted(args.levels):
            counts = run_level(url, body, headers, clients, args.seconds)
            goodput[clients] = counts.get(200, 0) / args.seconds
            rates = ", ".join(f"{status}: {n / args.seconds:.1f}/s" for status, n in sorted(counts.items()))
            print(f"concurrency {clients}: {rates}; goodput {goodput[clients]:.2f} req/s")
    finally:
        process.terminate()
        process.wait(timeout=60)
    low, high = min(goodput), max(goodput)
    ratio = goodput[high] / goodput[low] if goodput[low] else 0.0
    print(f"goodput at {high} / at {low}: {ratio:.2f} (target >= {GOODPUT_TARGET_RATIO})")
    return 0 if ratio >= GOODPUT_TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
