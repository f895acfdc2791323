"""Ask the service for the poses of the persons in one image; print the answer, optionally draw it.

    python -m clients.pose IMAGE --box x1,y1,x2,y2 [--box ...] [--url URL] [--draw OUT.png] [--no-flip]

A box with a negative coordinate needs the `=` form: `--box=-5,10,200,400`.
Exit status: 0 on success, 1 when the service refused or could not be reached, 2 for bad arguments.
"""

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path

import cv2

from clients.api import PoseResult, box_person, estimate_poses, pose_arrays
from clients.http import ClientSettings, ServiceClient, ServiceError
from core.drawing import DrawStyle, draw_poses

EXIT_OK, EXIT_SERVICE, EXIT_USAGE = 0, 1, 2


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'x1,y1,x2,y2' → four finite floats with x2 > x1 and y2 > y1 (argparse type)."""
    parts = text.split(",")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"box {text!r}: expected four numbers x1,y1,x2,y2") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"box {text!r}: expected four finite numbers x1,y1,x2,y2")
    x1, y1, x2, y2 = values
    if x2 <= x1 or y2 <= y1:
        raise argparse.ArgumentTypeError(f"box {text!r} is empty: it needs x2 > x1 and y2 > y1")
    return x1, y1, x2, y2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clients.pose",
        description="Estimate the poses of the persons in the given boxes of an image through the service.",
    )
    parser.add_argument("image", type=Path, help="JPEG, PNG, BMP or WebP image")
    parser.add_argument(
        "--box",
        action="append",
        required=True,
        type=parse_box,
        help="person box x1,y1,x2,y2 in pixels; repeat for several persons (negative values: --box=-5,...)",
    )
    parser.add_argument("--url", help="service base URL (default: $HGPOSE_URL or http://127.0.0.1:8000)")
    parser.add_argument("--api-key", help="bearer key (default: $HGPOSE_API_KEY)")
    parser.add_argument("--draw", type=Path, help="write the image with the skeletons drawn here")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="flip test")
    parser.add_argument("--min-score", type=float, default=0.0, help="leave out joints scoring below this")
    parser.add_argument("--model", help="model name (default: the service's default)")
    parser.add_argument("--version", type=int, help="model version (default: the newest)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    return parser


async def _request(args: argparse.Namespace, settings: ClientSettings, image: bytes) -> PoseResult:
    async with ServiceClient(settings, max_connections=1) as client:
        return await estimate_poses(
            client,
            image,
            args.image.name,
            [box_person(box) for box in args.box],
            flip=args.flip,
            model=args.model,
            version=args.version,
        )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.image.is_file():
        parser.error(f"image {args.image} does not exist")
    if args.draw is not None and not cv2.haveImageWriter(str(args.draw)):
        parser.error(f"--draw {args.draw}: OpenCV cannot write that file type (use .png or .jpg)")
    settings = ClientSettings.from_options(args.url, args.api_key, args.timeout)
    try:
        result = asyncio.run(_request(args, settings, args.image.read_bytes()))
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SERVICE
    print(json.dumps(result.body, indent=2))
    if args.draw is not None:
        # IMREAD_COLOR applies the EXIF orientation, as the service does, so the keypoints line up.
        image = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
        if image is None:
            print(f"error: OpenCV cannot read {args.image} to draw on it", file=sys.stderr)
            return EXIT_USAGE
        drawn = draw_poses(image, *pose_arrays(result.persons), style=DrawStyle(min_score=args.min_score))
        if not cv2.imwrite(str(args.draw), drawn):
            print(f"error: could not write {args.draw}", file=sys.stderr)
            return EXIT_USAGE
        print(f"drew {len(result.persons)} person(s) on {args.draw}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
