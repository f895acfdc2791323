"""Recall and false detections of a person-detector version on real photographs, and its time per image.

    python benchmarks/person_detector.py [--version-dir model_repo/person_detector/1] [--score 0.3]
        [--min-height 90] [--photos MORE.json ...] [--runtime onnxruntime|openvino] [--repeat 5]

Photographs where everyone is known: the five MPII sample images (the annotated persons, boxed by their
joints, and tests/fixtures/person_boxes.json for the others) and scikit-image's `astronaut` and `camera`.
`--photos FILE` adds more: {"persons": {"image path": [[x1, y1, x2, y2], ...]}, "ignore": {...}}, paths
relative to the file. A person counts when at least `--min-height` pixels tall (90, the acceptance bar)
and is found by a detection with IoU >= 0.5; a detection that finds no one is false. Times are medians
over `--repeat` runs of each image: preprocessing, inference (one image a call), decoding.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from core.box_metrics import MatchCount, count_matches  # noqa: E402
from core.detection import DetectorCodec  # noqa: E402
from core.model_repo import ONNX_FILE, OPENVINO_IR_FILE, read_detector_metadata, verify_file  # noqa: E402
from core.mpii import MPII_SAMPLE_DIR, MPII_SAMPLE_PERSONS, read_annotations  # noqa: E402

PERSON_BOXES = REPO_ROOT / "tests" / "fixtures" / "person_boxes.json"
# An RGB image, the people to find (P, 4) and regions to ignore (Q, 4).
Photo = tuple[str, np.ndarray, np.ndarray, np.ndarray]
Infer = Callable[[np.ndarray], np.ndarray]


def _boxes(table: dict[str, list[list[float]]], key: str) -> np.ndarray:
    return np.asarray(table.get(key, []), dtype=np.float64).reshape(-1, 4)


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read the image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def known_photos() -> Iterator[Photo]:
    """The MPII sample and scikit-image photographs with everyone in them boxed."""
    boxes = json.loads(PERSON_BOXES.read_text())
    annotations = read_annotations(MPII_SAMPLE_DIR / "annot" / "valid.h5").subset(MPII_SAMPLE_PERSONS)
    joint_boxes = annotations.joint_boxes()
    more = boxes["mpii_sample"]
    for name in sorted(set(annotations.imgname)):
        annotated = joint_boxes[[n == name for n in annotations.imgname]]
        persons = np.concatenate([annotated, _boxes(more["persons"], name)])
        yield name, _read_rgb(MPII_SAMPLE_DIR / "images" / name), persons, _boxes(more["ignore"], name)
    from skimage import data

    for name in sorted(boxes["skimage"]["persons"]):
        image = getattr(data, name)()
        rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        yield name, rgb, _boxes(boxes["skimage"]["persons"], name), _boxes(boxes["skimage"]["ignore"], name)


def listed_photos(path: Path) -> Iterator[Photo]:
    table = json.loads(path.read_text())
    for name in sorted(table["persons"]):
        image = _read_rgb(path.parent / name)
        yield name, image, _boxes(table["persons"], name), _boxes(table.get("ignore", {}), name)


def runtime(version_dir: Path, name: str, input_name: str) -> Infer:
    metadata = read_detector_metadata(version_dir)
    if name == "openvino":
        import openvino as ov

        model_file = OPENVINO_IR_FILE if OPENVINO_IR_FILE in metadata.files else ONNX_FILE
        verify_file(version_dir, metadata, model_file)
        compiled = ov.Core().compile_model(str(version_dir / model_file), "CPU")
        return lambda tensor: np.asarray(compiled(tensor)[0])
    import onnxruntime as ort

    verify_file(version_dir, metadata, ONNX_FILE)
    session = ort.InferenceSession(str(version_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    return lambda tensor: session.run(None, {input_name: tensor})[0]


def recall_line(label: str, total: MatchCount) -> str:
    return (
        f"{label}: {total.found}/{total.persons} people found (recall {total.recall:.3f}), "
        f"{total.false}/{total.detections} detections false ({total.false_share:.3f})"
    )


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """The detector version folder and the score threshold, as the detector benchmarks take them."""
    parser.add_argument(
        "--version-dir", type=Path, default=REPO_ROOT / "model_repo" / "person_detector" / "1"
    )
    parser.add_argument("--score", type=float, default=0.3, help="score threshold")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_detector_arguments(parser)
    parser.add_argument("--min-height", type=float, default=90.0, help="people lower than this are ignored")
    parser.add_argument("--photos", type=Path, nargs="*", default=[], help="more photographs with boxes")
    parser.add_argument("--runtime", choices=["onnxruntime", "openvino"], default="onnxruntime")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each image")
    args = parser.parse_args(argv)

    metadata = read_detector_metadata(args.version_dir)
    codec = DetectorCodec.from_metadata(metadata)
    infer = runtime(args.version_dir, args.runtime, metadata.input.name)
    sets = [("known", known_photos())] + [(str(path), listed_photos(path)) for path in args.photos]
    print(
        f"{metadata.name} {metadata.version} ({metadata.precision}) on {args.runtime}, score >= {args.score}"
    )
    print(f"{'image':<28} {'persons':>7} {'found':>5} {'detections':>10} {'false':>5}  scores")
    times: dict[str, list[float]] = {"preprocess": [], "inference": [], "decode": []}
    for label, photos in sets:
        total = MatchCount()
        for name, image, persons, ignore in photos:
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                tensor, transform = codec.preprocess(image)
                prepared = time.perf_counter()
                output = infer(tensor)
                inferred = time.perf_counter()
                found = codec.decode(output, transform, score_threshold=args.score)
                decoded = time.perf_counter()
                times["preprocess"].append(prepared - started)
                times["inference"].append(inferred - prepared)
                times["decode"].append(decoded - inferred)
            count = count_matches(found.boxes, persons, ignore, args.min_height)
            total = total + count
            scores = " ".join(f"{s:.2f}" for s in found.scores)
            counts = f"{count.persons:>7} {count.found:>5} {count.detections:>10} {count.false:>5}"
            print(f"{name:<28} {counts}  {scores}")
        print(recall_line(label, total))
    medians = ", ".join(f"{step} {1000 * statistics.median(values):.1f}" for step, values in times.items())
    print(f"median ms per image: {medians}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
