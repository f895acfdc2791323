"""Score MPII predictions: `python -m clients.score --annot ANNOT.h5 --pred PRED.h5 [--pred-origin 0|1]
[--json OUT.json]`. Prints the seed's report and the official PCKh table; exit code 2 on bad input."""

import argparse
import json
import sys
from pathlib import Path

from core.metrics import PredictionError, score_predictions
from core.mpii import AnnotationError, read_annotations, read_predictions

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients.score", description=__doc__)
    parser.add_argument("--annot", required=True, type=Path, help="MPII annotation file (valid.h5 layout)")
    parser.add_argument("--pred", required=True, type=Path, help="h5 file with dataset 'preds' (N, 16, 2)")
    parser.add_argument(
        "--pred-origin",
        type=int,
        choices=(0, 1),
        default=0,
        help="0: predictions are 0-based pixels (the service's output; default); 1: already 1-based",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        annotations = read_annotations(args.annot)
        report = score_predictions(annotations, read_predictions(args.pred), pred_origin=args.pred_origin)
    except (AnnotationError, PredictionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report.text())
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
