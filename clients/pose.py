"""Ask the service for the poses of the persons in one image; print the answer, optionally draw it.

    python -m clients.pose IMAGE [--box x1,y1,x2,y2 ...] [--url URL] [--draw OUT.png] [--no-flip]
        [--detector NAME] [--detect-score S] [--detect-max-persons N] [--detect-min-size PX]

Without `--box` the service's person detector finds the persons; each comes back with its detection box and
score, which stderr lists and `--draw` writes on the box. A box with a negative coordinate needs the `=`
form: `--box=-5,10,200,400`.
Exit status: 0 on success, 1 when the service refused or could not be reached, 2 for bad arguments.
"""

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path

import cv2

from clients.api import (
    PoseResult,
    box_person,
    detection_scores,
    estimate_poses,
    pose_arrays,
)
from clients.detection_options import add_detection_arguments, detection_request
from clients.http import ClientSettings, ServiceCallError, ServiceClient
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
        description="Estimate the poses of the persons in an image through the service: in the given boxes, "
        "or without --box, of every person the service's detector finds.",
    )
    parser.add_argument("image", type=Path, help="JPEG, PNG, BMP or WebP image")
    parser.add_argument(
        "--box",
        action="append",
        type=parse_box,
        help="person box x1,y1,x2,y2 in pixels; repeat for several persons (negative values: --box=-5,...); "
        "without it the detector finds the persons",
    )
    add_detection_arguments(parser, "detection (without --box; default: the service's settings)")
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
            None if args.box is None else [box_person(box) for box in args.box],
            flip=args.flip,
            model=args.model,
            version=args.version,
            detection=detection_request(args),
        )


def found_persons_text(result: PoseResult) -> str:
    """One line per person the detector found: its box and score."""
    lines = [f"the detector found {len(result.persons)} person(s)"]
    for index, person in enumerate(result.persons, 1):
        box = "?" if person.box is None else ", ".join(f"{v:.0f}" for v in person.box)
        score = "?" if person.detection_score is None else f"{person.detection_score:.2f}"
        lines.append(f"  person {index}: box [{box}], detection score {score}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.image.is_file():
        parser.error(f"image {args.image} does not exist")
    if args.box is not None and detection_request(args).form_fields():
        parser.error("the --detector and --detect-* options apply only without --box")
    if args.draw is not None and not cv2.haveImageWriter(str(args.draw)):
        parser.error(f"--draw {args.draw}: OpenCV cannot write that file type (use .png or .jpg)")
    settings = ClientSettings.from_options(args.url, args.api_key, args.timeout)
    try:
        result = asyncio.run(_request(args, settings, args.image.read_bytes()))
    except ServiceCallError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SERVICE
    print(json.dumps(result.body, indent=2))
    if args.box is None:
        print(found_persons_text(result), file=sys.stderr)
    if args.draw is not None:
        # IMREAD_COLOR applies the EXIF orientation, as the service does, so the keypoints line up.
        image = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
        if image is None:
            print(f"error: OpenCV cannot read {args.image} to draw on it", file=sys.stderr)
            return EXIT_USAGE
        drawn = draw_poses(
            image,
            *pose_arrays(result.persons),
            style=DrawStyle(min_score=args.min_score),
            box_scores=detection_scores(result.persons),
        )
        if not cv2.imwrite(str(args.draw), drawn):
            print(f"error: could not write {args.draw}", file=sys.stderr)
            return EXIT_USAGE
        print(f"drew {len(result.persons)} person(s) on {args.draw}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
