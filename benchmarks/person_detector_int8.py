"""Whether the person detector keeps its recall in int8: NNCF post-training quantisation in memory, then
recall, false detections and inference time of fp32 and int8 on OpenVINO (nothing is written).

    python benchmarks/person_detector_int8.py [--version-dir model_repo/person_detector/1] [--score 0.3]
        [--crops 2] [--runs 30] [--seed 0]

Calibration: the photographs person_detector.py checks on (where everyone is boxed), each as it is and
mirrored, plus `--crops` random crops of each (50-90 % of each side), through the detector's own
preprocessing. The check runs on the same photographs, so it favours int8: it can show a loss, not prove its
absence. Recall counts people at least 90 px tall found with IoU >= 0.5, as person_detector.py does. Time:
median of `--runs` inferences of one image (the first photograph), one image a call, OpenVINO CPU in f32
inference precision for both (int8 layers run in int8).
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from person_detector import Photo, add_detector_arguments, known_photos, recall_line  # noqa: E402

from core.box_metrics import MatchCount, count_matches  # noqa: E402
from core.detection import DetectorCodec  # noqa: E402
from core.model_repo import ONNX_FILE, read_detector_metadata, verify_file  # noqa: E402

MIN_HEIGHT = 90.0
Infer = Callable[[np.ndarray], np.ndarray]


def calibration_inputs(photos: list[Photo], codec: DetectorCodec, crops: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = []
    for _, image, _, _ in photos:
        for view in (image, image[:, ::-1]):
            inputs.append(codec.preprocess(np.ascontiguousarray(view))[0])
            height, width = view.shape[:2]
            for _ in range(crops):
                crop_h, crop_w = int(height * rng.uniform(0.5, 0.9)), int(width * rng.uniform(0.5, 0.9))
                top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
                crop = view[top : top + crop_h, left : left + crop_w]
                inputs.append(codec.preprocess(np.ascontiguousarray(crop))[0])
    return inputs


def check(label: str, infer: Infer, photos: list[Photo], codec: DetectorCodec, score: float) -> None:
    total = MatchCount()
    for name, image, persons, ignore in photos:
        tensor, transform = codec.preprocess(image)
        found = codec.decode(infer(tensor), transform, score_threshold=score)
        count = count_matches(found.boxes, persons, ignore, MIN_HEIGHT)
        total = total + count
        scores = " ".join(f"{s:.2f}" for s in found.scores)
        counts = f"found {count.found}/{count.persons}, false {count.false}"
        print(f"  {label:<5} {name:<16} {counts}  scores {scores}")
    print(recall_line(label, total))


def median_ms(infer: Infer, tensor: np.ndarray, runs: int) -> float:
    for _ in range(5):
        infer(tensor)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        infer(tensor)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_detector_arguments(parser)
    parser.add_argument("--crops", type=int, default=2, help="random crops of each view for calibration")
    parser.add_argument("--runs", type=int, default=30, help="timed inferences")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import nncf
    import openvino as ov

    metadata = read_detector_metadata(args.version_dir)
    verify_file(args.version_dir, metadata, ONNX_FILE)
    codec = DetectorCodec.from_metadata(metadata)
    photos = list(known_photos())
    calibration = calibration_inputs(photos, codec, args.crops, args.seed)
    core = ov.Core()
    fp32 = core.read_model(str(args.version_dir / ONNX_FILE))
    started = time.perf_counter()
    int8 = nncf.quantize(
        fp32,
        nncf.Dataset(calibration),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(calibration),
    )
    print(
        f"nncf {nncf.__version__}, openvino {ov.get_version()}: {len(calibration)} calibration inputs, "
        f"quantised in {time.perf_counter() - started:.1f} s"
    )
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    times = {}
    for label, model in (("fp32", fp32), ("int8", int8)):
        compiled = core.compile_model(model, "CPU", config)

        def infer(tensor: np.ndarray, compiled: ov.CompiledModel = compiled) -> np.ndarray:
            return np.asarray(compiled(tensor)[0])

        check(label, infer, photos, codec, args.score)
        times[label] = median_ms(infer, codec.preprocess(photos[0][1])[0], args.runs)
    print("median inference ms: " + ", ".join(f"{label} {ms:.1f}" for label, ms in times.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
