"""The seed's evaluation through the service, fp32 against int8: time for 2,958 persons and seed PCK.

    python benchmarks/eval_seed_resolution.py --data DIR --model-repo REPO --model NAME \
        --fp32-version A --int8-version B [--backend openvino] [--limit N] [--concurrency 4]

DIR is an MPII-layout folder (annot/valid.h5 + images/), e.g. `python -m training.synth --out DIR --train 0
--val 2958`. The script starts `python -m service` on REPO with --backend (OpenVINO by default, the
runtime that serves int8; HGPOSE_* variables pass through), then runs clients.eval_mpii with flip test on
version A and on version B, each from a fresh output folder, and prints for each: persons/s, minutes for
2,958 persons (measured, or extrapolated from the rate with --limit), seed PCK, and the issue's target of
at most 5 minutes. The seed's figure at its resolution (256 px) needs 256 px versions; any 256 px int8
model shows the speed.
"""

import argparse
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from service_latency import start_service  # noqa: E402

from clients.eval_mpii import EvalConfig, evaluate  # noqa: E402
from clients.http import ClientSettings  # noqa: E402
from core.model_repo import read_metadata  # noqa: E402
from runtime.backends import BACKENDS  # noqa: E402

SEED_PERSONS = 2958
TARGET_MINUTES = 5.0


@dataclass(frozen=True)
class EvalFigures:
    persons: int
    seconds: float
    seed_pck: float

    @property
    def minutes_for_seed_persons(self) -> float:
        return SEED_PERSONS * self.seconds / self.persons / 60


def run_eval(url: str, args: argparse.Namespace, version: int) -> EvalFigures:
    with tempfile.TemporaryDirectory(prefix="eval_seed_resolution_") as out:
        config = EvalConfig(
            annotations=args.data / "annot" / "valid.h5",
            images=args.data / "images",
            out=Path(out),
            flip=True,
            concurrency=args.concurrency,
            limit=args.limit,
            persons_per_request=args.persons_per_request,
            model=args.model,
            version=version,
            show_progress=False,
        )
        outcome = evaluate(config, ClientSettings(base_url=url))
    if outcome.exit_status != 0 or outcome.sent == 0 or outcome.report is None:
        raise SystemExit(
            f"version {version}: the run did not complete ({outcome.aborted or outcome.refused})"
        )
    return EvalFigures(outcome.sent, outcome.elapsed_s, outcome.report.seed.ratio("all", "total"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="MPII-layout folder (annot/valid.h5, images/)"
    )
    parser.add_argument("--model-repo", required=True, type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--fp32-version", required=True, type=int)
    parser.add_argument("--int8-version", required=True, type=int)
    parser.add_argument("--backend", default="openvino", choices=list(BACKENDS))
    parser.add_argument("--limit", type=int, help="evaluate only the first N persons and extrapolate")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--persons-per-request", type=int, default=4)
    args = parser.parse_args(argv)

    versions = {"fp32": args.fp32_version, "int8": args.int8_version}
    for label, version in versions.items():
        metadata = read_metadata(args.model_repo / args.model / str(version))
        print(f"{label}: {args.model}:{version}, {metadata.precision}, {metadata.input.height} px input")
    process, url = start_service(args.model_repo, args.backend)
    try:
        figures = {label: run_eval(url, args, version) for label, version in versions.items()}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    measured = "measured" if args.limit is None or args.limit >= SEED_PERSONS else "extrapolated"
    per_request = args.persons_per_request
    print(f"backend {args.backend}, flip test, concurrency {args.concurrency}, {per_request} persons/request")
    for label, result in figures.items():
        rate = result.persons / result.seconds
        print(
            f"{label}: {result.persons} persons in {result.seconds:.1f} s = {rate:.2f} "
            f"persons/s; {SEED_PERSONS} persons: {result.minutes_for_seed_persons:.1f} min ({measured}); "
            f"seed PCK {result.seed_pck:.4f}"
        )
    int8 = figures["int8"]
    verdict = "meets" if int8.minutes_for_seed_persons <= TARGET_MINUTES else "misses"
    print(f"int8 {verdict} the target of {SEED_PERSONS} persons in <= {TARGET_MINUTES:g} min")
    print(f"seed PCK int8 - fp32: {100 * (int8.seed_pck - figures['fp32'].seed_pck):+.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
