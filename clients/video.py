"""Track the poses in a video through the service; write the JSON Lines it streams, optionally draw them.

    python -m clients.video IN [--box x1,y1,x2,y2 ...] --out poses.jsonl [--draw out.mp4] [--url URL]

IN is an MP4, MOV, MKV or WebM file. `--box` gives the persons of the first frame; without any, the
service's person detector finds them. Each frame's line is written as soon as the service sends it, with a
progress bar on stderr. `--draw` then draws every frame's skeletons (smoothed, or raw with --no-smooth)
with core.drawing on the video, read and written here with OpenCV (MPEG-4 part 2).
Exit status: 0 on success, 1 when the service refused or failed (the lines received are kept), 2 for bad
arguments.
"""

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import cv2
import httpx
import numpy as np
from tqdm import tqdm

from clients.http import ClientSettings, error_message
from clients.pose import EXIT_OK, EXIT_SERVICE, EXIT_USAGE, parse_box
from core.drawing import DrawStyle, draw_poses
from core.joints import JOINT_NAMES, NUM_JOINTS

VIDEO_PATH = "/v1/pose/video"
FRAME_COUNT_HEADER = "X-Video-Frame-Count"
DRAW_FOURCC = "mp4v"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clients.video",
        description="Track and smooth the poses of the persons in a video through the service.",
    )
    parser.add_argument("video", type=Path, help="MP4, MOV, MKV or WebM file")
    parser.add_argument(
        "--box",
        action="append",
        type=parse_box,
        help="a person of the first frame, x1,y1,x2,y2 in pixels; repeat for several (default: detected)",
    )
    parser.add_argument("--out", type=Path, required=True, help="write the JSON Lines here")
    parser.add_argument("--draw", type=Path, help="write the video with the skeletons drawn here (.mp4)")
    parser.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True, help="One-Euro")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="flip test")
    parser.add_argument("--min-score", type=float, default=0.0, help="draw no joint scoring below this")
    parser.add_argument("--detect-every", type=int, help="run the detector every N frames")
    parser.add_argument("--model", help="model name (default: the service's default)")
    parser.add_argument("--version", type=int, help="model version (default: the newest)")
    parser.add_argument("--url", help="service base URL (default: $HGPOSE_URL or http://127.0.0.1:8000)")
    parser.add_argument("--api-key", help="bearer key (default: $HGPOSE_API_KEY)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds without a line (default 600)")
    return parser


def request_fields(args: argparse.Namespace) -> dict[str, str]:
    fields = {"smooth": str(args.smooth).lower(), "flip": str(args.flip).lower()}
    if args.box:
        fields["persons"] = json.dumps([{"box": list(box)} for box in args.box])
    for name, value in (
        ("detect_every", args.detect_every),
        ("model", args.model),
        ("version", args.version),
    ):
        if value is not None:
            fields[name] = str(value)
    return fields


class StreamFailed(RuntimeError):
    """The service refused the video, or reported an error while streaming."""


def stream_lines(
    settings: ClientSettings, video: Path, fields: dict[str, str], out: IO[str]
) -> Iterator[dict[str, Any]]:
    """Each line the service sends, written to `out` as it comes and yielded; StreamFailed on an error."""
    with (
        video.open("rb") as file,
        httpx.Client(
            base_url=settings.base_url, headers=settings.headers(), timeout=settings.timeout_s
        ) as http,
        http.stream("POST", VIDEO_PATH, files={"video": (video.name, file)}, data=fields) as response,
    ):
        if response.is_error:
            response.read()
            raise StreamFailed(f"HTTP {response.status_code}: {error_message(response)}")
        total = response.headers.get(FRAME_COUNT_HEADER)
        with tqdm(total=int(total) if total else None, unit="frame", file=sys.stderr) as progress:
            for text in response.iter_lines():
                if not text:
                    continue
                out.write(text + "\n")
                out.flush()
                line = json.loads(text)
                if line.get("error"):
                    raise StreamFailed(
                        f"after {line['frames']} frames: HTTP {line['status']}: {line['detail']}"
                    )
                if "frame" in line:
                    progress.update(1)
                yield line


def person_arrays(persons: list[dict[str, Any]], smooth: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints (N, 16, 2), scores (N, 16) and boxes (N, 4) of a frame line's persons, as drawn."""
    index = {name: j for j, name in enumerate(JOINT_NAMES)}
    keypoints = np.full((len(persons), NUM_JOINTS, 2), np.nan)
    scores = np.zeros((len(persons), NUM_JOINTS))
    for i, person in enumerate(persons):
        for joint in person["smoothed"] if smooth and person["smoothed"] else person["keypoints"]:
            keypoints[i, index[joint["name"]]] = joint["x"], joint["y"]
            scores[i, index[joint["name"]]] = joint["score"]
    boxes = np.array([person["box"] for person in persons], np.float64).reshape(-1, 4)
    return keypoints, scores, boxes


def draw_video(
    video: Path, frames: dict[int, list[dict[str, Any]]], out: Path, smooth: bool, style: DrawStyle
) -> int:
    """Draw each frame's persons on the video's frames, in order; returns the frames written."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer: cv2.VideoWriter | None = None
    written = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if writer is None:
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*DRAW_FOURCC), fps, size)
            drawn = draw_poses(image, *person_arrays(frames.get(written, []), smooth), style=style)
            writer.write(drawn)
            written += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.video.is_file():
        parser.error(f"video {args.video} does not exist")
    if args.draw is not None and args.draw.suffix.lower() != ".mp4":
        parser.error(f"--draw {args.draw}: write an .mp4 file")
    settings = ClientSettings.from_options(args.url, args.api_key, args.timeout)
    frames: dict[int, list[dict[str, Any]]] = {}
    done: dict[str, Any] | None = None
    try:
        with args.out.open("w") as out:
            for line in stream_lines(settings, args.video, request_fields(args), out):
                if "frame" in line:
                    frames[line["frame"]] = line["persons"]
                elif line.get("done"):
                    done = line
    except (StreamFailed, httpx.HTTPError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SERVICE
    if done is not None:
        print(
            f"{done['frames']} frames, {done['tracks']} tracks, {done['frames_per_s']} frames/s; "
            f"wrote {args.out}",
            file=sys.stderr,
        )
    if args.draw is not None:
        written = draw_video(args.video, frames, args.draw, args.smooth, DrawStyle(min_score=args.min_score))
        if written == 0:
            print(f"error: OpenCV could not read {args.video} to draw on it", file=sys.stderr)
            return EXIT_USAGE
        print(f"drew {written} frames on {args.draw}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
