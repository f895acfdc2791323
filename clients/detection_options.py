"""The command-line options that ask the service's person detector, shared by the clients that send images
without persons."""

import argparse

from clients.api import DetectionRequest


def add_detection_arguments(parser: argparse.ArgumentParser, title: str) -> None:
    group = parser.add_argument_group(title)
    group.add_argument("--detector", help="detector model name")
    group.add_argument("--detector-version", type=int, help="detector version (default: the newest)")
    group.add_argument("--detect-score", type=float, help="drop detections scoring below this (0..1)")
    group.add_argument("--detect-max-persons", type=int, help="keep at most this many persons, best first")
    group.add_argument("--detect-min-size", type=float, help="drop boxes narrower or lower (pixels)")


def detection_request(args: argparse.Namespace) -> DetectionRequest:
    """The options `add_detection_arguments` added, as parsed (None: the service's setting)."""
    return DetectionRequest(
        detector=args.detector,
        detector_version=args.detector_version,
        score_threshold=args.detect_score,
        max_persons=args.detect_max_persons,
        min_size=args.detect_min_size,
    )
