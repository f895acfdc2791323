"""Throughput of a batch MPII evaluation through the service, against the seed's figure.

    python benchmarks/eval_mpii_throughput.py --data DIR --url URL [--concurrency N] [--limit N] [--no-flip]

DIR is an MPII-layout folder (annot/valid.h5 + images/), e.g. made by
`python -m training.synth --out DIR --train 0 --val 2958`. The run goes through clients.eval_mpii exactly
as a user's would (fresh output folder, so nothing is resumed), with flip test by default, and prints
persons per second and the ratio to the seed: 2958 MPII validation persons in 21 minutes on one Ascend
910A (docs/reference.md#training-configuration). With --limit, the time for all entries is extrapolated
from the rate.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import httpx

from clients.eval_mpii import EvalConfig, evaluate
from clients.http import ClientSettings

SEED_PERSONS = 2958
SEED_SECONDS = 21 * 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="MPII-layout folder (annot/valid.h5, images/)"
    )
    parser.add_argument("--url", required=True, help="service base URL")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--persons-per-request", type=int, default=4)
    parser.add_argument("--limit", type=int, help="time only the first N entries and extrapolate")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--api-key")
    args = parser.parse_args(argv)

    settings = ClientSettings(base_url=args.url, api_key=args.api_key)
    models = httpx.get(f"{args.url}/v1/models", headers=settings.headers(), timeout=30).json()
    with tempfile.TemporaryDirectory(prefix="eval_mpii_bench_") as out:
        config = EvalConfig(
            annotations=args.data / "annot" / "valid.h5",
            images=args.data / "images",
            out=Path(out),
            flip=args.flip,
            concurrency=args.concurrency,
            limit=args.limit,
            persons_per_request=args.persons_per_request,
            show_progress=False,
        )
        outcome = evaluate(config, settings)
    if outcome.exit_status != 0 or outcome.sent == 0:
        print(f"error: the run did not complete: {outcome.aborted or outcome.refused or 'nothing sent'}")
        return 1
    rate = outcome.persons_per_s
    seed_rate = SEED_PERSONS / SEED_SECONDS
    total = len(outcome.preds) if args.limit is None else None
    print(f"service models: {models}")
    print(f"served by: {', '.join(outcome.served_by)}; flip test: {'on' if args.flip else 'off'}")
    print(
        f"concurrency {args.concurrency}, {args.persons_per_request} persons/request, "
        f"{outcome.retries} retries, {len(outcome.missing)} missing images"
    )
    print(f"persons: {outcome.sent} in {outcome.elapsed_s:.1f} s -> {rate:.2f} persons/s")
    print(
        f"{SEED_PERSONS} persons: {SEED_PERSONS / rate / 60:.1f} min"
        + (" (measured)" if total == SEED_PERSONS else " (extrapolated from the rate)")
    )
    print(f"seed (Ascend 910A): {SEED_PERSONS} persons in 21 min = {seed_rate:.2f} persons/s")
    print(f"ratio to the seed (persons/s, higher is faster): {rate / seed_rate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
