"""Synthetic people in MPII's layout, so that the whole pipeline can train and evaluate without MPII images.

The generator's command line, `python -m training.synth` (see the package's docstring).
"""

import argparse
import time
from pathlib import Path

from training.synth.families import FAMILIES, select_families
from training.synth.parallel import generate
from training.synth.scene import DEFAULT_IMAGE_SIZE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (gets annot/ and images/)")
    parser.add_argument("--train", type=int, required=True, help="annotated persons in annot/train.h5")
    parser.add_argument("--val", type=int, required=True, help="annotated persons in annot/valid.h5")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=DEFAULT_IMAGE_SIZE,
        metavar=("MIN", "MAX"),
        help="image height and width are drawn from [MIN, MAX] pixels",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument(
        "--families",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=None,
        help=f"comma-separated style families to draw (default: all of {','.join(FAMILIES)})",
    )
    parser.add_argument(
        "--exclude-family",
        action="append",
        default=[],
        metavar="FAMILY",
        help="leave a family out (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.train < 0 or args.val < 0 or not 64 <= args.image_size[0] <= args.image_size[1]:
        parser.error("--train/--val must be >= 0 and 64 <= MIN <= MAX for --image-size")
    try:
        families = select_families(args.families, args.exclude_family)
    except ValueError as error:
        parser.error(str(error))
    started = time.perf_counter()
    result = generate(
        args.out, args.train, args.val, args.seed, tuple(args.image_size), args.workers, families
    )
    images = len({name for split in result.values() for name in split.imgname})
    print(
        f"wrote {len(result['train'])} train and {len(result['valid'])} valid persons on {images} images "
        f"({', '.join(families)}) to {args.out} in {time.perf_counter() - started:.1f} s"
    )
