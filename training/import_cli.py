"""The command line every weight importer shares: a source file in, a MindSpore `.ckpt` out, or nothing."""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Importer = Callable[[Path, Path], dict[str, Any]]


def run_importer(argv: list[str] | None, prog: str, doc: str, source_help: str, importer: Importer) -> int:
    """Parse `SOURCE --out OUT`, import and print a summary; 1 when the weights do not form our network."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    parser.add_argument("source", type=Path, help=source_help)
    parser.add_argument("--out", type=Path, required=True, help="MindSpore .ckpt to write")
    args = parser.parse_args(argv)
    try:
        summary = importer(args.source, args.out)
    except ValueError as error:  # includes CheckpointMismatchError: weights that do not form our network
        print(f"import failed, nothing written: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {summary}")
    return 0
