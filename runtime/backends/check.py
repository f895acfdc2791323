"""Acceptance check of a backend on real hardware: every model version, every batch gear, against onnxruntime.

    python -m runtime.backends.check --model-repo REPO --backend lite --target ascend [--fixtures DIR]

Loads every version of every model in REPO on the chosen backend (the runtime's default options, with the
flags below on top) and runs it at every batch gear its backend takes, the rows cycling through the inputs
made from the MPII fixture (`--fixtures`: a folder with annot/valid.h5 and images/, by default
core/data/mpii_sample, shipped with the package). Each row is compared with onnxruntime on CPU.

- A pose model gets the first five persons cropped with core's crop; reported: the largest heatmap
  difference, and the keypoint difference in heatmap cells and image pixels. fp32 precision is judged on
  heatmaps, the fp16 precision modes on keypoints.
- A person detector gets the fixture's photographs, preprocessed as its metadata says, each gear running
  until every photograph has been through it; reported: the largest output difference, the person boxes
  found (those decoded from onnxruntime's output first) and the largest difference of a box corner in
  image pixels. It passes when both find the same number of persons with
  corners within --box-tolerance pixels, and in fp32 precision also its outputs within --output-tolerance.

Each gear's first call is timed on its own (on Ascend it includes compiling that gear), then the gear is
timed (p50 of --runs). Prints a report; exits 1 on a mismatch, 2 when a version cannot be loaded or run.
"""

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, get_args

import cv2
import numpy as np

from core.codec import HeatmapCodec
from core.detection import DetectorCodec, InputTransform
from core.geometry import crop_image
from core.model_repo import (
    ONNX_FILE,
    DetectorMetadata,
    ModelMetadata,
    read_detector_metadata,
    read_metadata,
    read_version_metadata,
)
from core.mpii import MPII_SAMPLE_DIR, read_annotations
from runtime.backends import BACKENDS, Backend, backend_spec, create_backend
from runtime.backends.onnxruntime import OnnxRuntimeBackend
from runtime.gears import check_gears
from runtime.options import BackendOptions, LiteOptions, LiteTarget, OnnxRuntimeOptions, RuntimeOptions
from runtime.repository.folders import version_folders

ResultT = TypeVar("ResultT")

FIXTURE_PERSONS = 5
REDUCED_PRECISION_MODES = ("enforce_fp16", "preferred_fp32", "preferred_optimal")
EXIT_MISMATCH = 1
EXIT_UNLOADABLE = 2


@dataclass(frozen=True)
class Fixture:
    """The fixture persons: their images' pixels (RGB uint8), centres and scales."""

    images: list[np.ndarray]
    centers: np.ndarray
    scales: np.ndarray

    def crops(self, metadata: ModelMetadata) -> np.ndarray:
        """Network inputs (N, S, S, 3) float32, cropped with core's crop as the service does."""
        size = metadata.input.height
        crops = [
            crop_image(image.astype(np.float32), center, float(scale), size) * metadata.input.pixel_scale
            for image, center, scale in zip(self.images, self.centers, self.scales, strict=True)
        ]
        return np.stack(crops).astype(np.float32)

    def photographs(self, codec: DetectorCodec) -> tuple[np.ndarray, list[InputTransform]]:
        """Detector inputs (N, ...) of the fixture's photographs, and each one's transform back to it."""
        prepared = [codec.preprocess(image) for image in self.images]
        return np.concatenate([tensor for tensor, _ in prepared]), [transform for _, transform in prepared]


@dataclass(frozen=True)
class GearResult:
    gear: int
    heatmap_diff: float
    keypoint_cells: float
    keypoint_px: float
    first_ms: float
    p50_ms: float
    passed: bool


@dataclass(frozen=True)
class DetectorGearResult:
    gear: int
    output_diff: float
    persons: int  # found in onnxruntime's outputs of the gear's rows
    persons_found: int  # found in the backend's (passing needs the same count in each row)
    box_px: float  # largest corner difference of a backend box from its nearest onnxruntime box
    first_ms: float
    p50_ms: float
    passed: bool


def read_fixture(folder: Path, persons: int = FIXTURE_PERSONS) -> Fixture:
    """The first `persons` persons of folder/annot/valid.h5 with their images from folder/images."""
    annotations = read_annotations(folder / "annot" / "valid.h5").subset(persons)
    images = []
    for name in annotations.imgname:
        pixels = cv2.imread(str(folder / "images" / name), cv2.IMREAD_COLOR)
        if pixels is None:
            raise FileNotFoundError(f"fixture image {folder / 'images' / name} is missing or unreadable")
        images.append(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
    return Fixture(images=images, centers=annotations.center, scales=annotations.scale)


def reduced_precision(options: RuntimeOptions) -> bool:
    """Whether the run uses an fp16 precision mode (Lite on Ascend or GPU), judged on keypoints only."""
    lite = options.backends.lite
    return (
        options.backend == "lite" and lite.target != "cpu" and lite.precision_mode in REDUCED_PRECISION_MODES
    )


def p50_ms(backend: Backend, batch: np.ndarray, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        backend.infer(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def check_gear(
    backend: Backend,
    gear: int,
    crops: np.ndarray,
    reference: np.ndarray,
    fixture: Fixture,
    codec: HeatmapCodec,
    options: argparse.Namespace,
    on_keypoints: bool,
) -> GearResult:
    """Run `gear` rows cycling through the crops; compare each row with its reference row; time the gear."""
    rows = np.arange(gear) % len(crops)
    started = time.perf_counter()
    output = backend.infer(crops[rows])
    first_ms = (time.perf_counter() - started) * 1000
    expected = reference[rows]
    heatmap_diff = float(np.abs(output - expected).max())
    centers, scales = fixture.centers[rows], fixture.scales[rows]
    got = codec.decode(output[:, -1], centers, scales)
    want = codec.decode(expected[:, -1], centers, scales)
    cells = float(np.linalg.norm(got.heatmap_xy - want.heatmap_xy, axis=-1).max())
    pixels = float(np.linalg.norm(got.image_xy - want.image_xy, axis=-1).max())
    if on_keypoints:
        passed = cells <= options.keypoint_tolerance
    else:
        passed = heatmap_diff <= options.heatmap_tolerance
    timed = p50_ms(backend, crops[rows], options.runs)
    return GearResult(gear, heatmap_diff, cells, pixels, first_ms, timed, passed)


def reference_outputs(version_dir: Path, inputs: np.ndarray) -> np.ndarray:
    """onnxruntime's outputs on the CPU for every row of `inputs`, a row at a time for a graph whose batch is
    fixed (a detector exported for one image)."""
    reference = OnnxRuntimeBackend(version_dir / ONNX_FILE, OnnxRuntimeOptions(use_cuda=False))
    try:
        if reference.batch_sizes is None:
            return reference.infer(inputs)
        (batch,) = reference.batch_sizes
        padded = np.concatenate([inputs, np.zeros((-len(inputs) % batch, *inputs.shape[1:]), inputs.dtype)])
        outputs = [reference.infer(padded[start : start + batch]) for start in range(0, len(padded), batch)]
        return np.concatenate(outputs)[: len(inputs)]
    finally:
        reference.close()


def each_gear(
    version_dir: Path, runtime: RuntimeOptions, check: Callable[[Backend, int], ResultT]
) -> list[ResultT]:
    """The version loaded on the runtime's backend, checked at every batch size it takes (the Lite gears
    when it takes any)."""
    backend = create_backend(runtime.backend, version_dir, runtime)
    try:
        return [check(backend, gear) for gear in backend.batch_sizes or runtime.backends.lite.gears]
    finally:
        backend.close()


def largest_corner_px(boxes: np.ndarray, reference: np.ndarray) -> float:
    """How far (pixels, largest coordinate) the furthest of `boxes` lies from its nearest reference box."""
    if len(boxes) == 0 or len(reference) == 0:
        return 0.0 if len(boxes) == len(reference) else float("inf")
    gaps = np.abs(boxes[:, None, :] - reference[None, :, :]).max(axis=2)
    return float(gaps.min(axis=1).max())


def check_detector_gear(
    backend: Backend,
    gear: int,
    inputs: np.ndarray,
    transforms: list[InputTransform],
    reference: np.ndarray,
    codec: DetectorCodec,
    options: argparse.Namespace,
    on_boxes_only: bool,
) -> DetectorGearResult:
    """Run calls of `gear` rows cycling through the photographs until each has run (a fixed batch of one still
    sees them all); compare outputs and decoded person boxes row by row; time the first call and the gear."""
    calls = -(-len(inputs) // gear)
    rows = np.arange(calls * gear) % len(inputs)
    outputs, first_ms = [], 0.0
    for start in range(0, len(rows), gear):
        started = time.perf_counter()
        outputs.append(backend.infer(inputs[rows[start : start + gear]]))
        first_ms = first_ms or (time.perf_counter() - started) * 1000
    output = np.concatenate(outputs)
    expected = reference[rows]
    persons = persons_found = 0
    box_px = 0.0
    same_counts = True
    for got, want, row in zip(output, expected, rows, strict=True):
        got_boxes = codec.decode(got, transforms[row]).boxes
        want_boxes = codec.decode(want, transforms[row]).boxes
        persons, persons_found = persons + len(want_boxes), persons_found + len(got_boxes)
        same_counts = same_counts and len(got_boxes) == len(want_boxes)
        apart = max(largest_corner_px(got_boxes, want_boxes), largest_corner_px(want_boxes, got_boxes))
        box_px = max(box_px, apart)
    output_diff = float(np.abs(output - expected).max())
    passed = same_counts and box_px <= options.box_tolerance
    if not on_boxes_only:
        passed = passed and output_diff <= options.output_tolerance
    timed = p50_ms(backend, inputs[rows[:gear]], options.runs)
    return DetectorGearResult(gear, output_diff, persons, persons_found, box_px, first_ms, timed, passed)


def check_detector(
    version_dir: Path, runtime: RuntimeOptions, fixture: Fixture, options: argparse.Namespace
) -> list[DetectorGearResult]:
    metadata: DetectorMetadata = read_detector_metadata(version_dir)
    codec = DetectorCodec.from_metadata(metadata)
    inputs, transforms = fixture.photographs(codec)
    reference = reference_outputs(version_dir, inputs)
    on_boxes_only = reduced_precision(runtime)
    return each_gear(
        version_dir,
        runtime,
        lambda backend, gear: check_detector_gear(
            backend, gear, inputs, transforms, reference, codec, options, on_boxes_only
        ),
    )


def check_version(
    version_dir: Path, runtime: RuntimeOptions, fixture: Fixture, options: argparse.Namespace
) -> list[GearResult]:
    metadata = read_metadata(version_dir)
    codec = HeatmapCodec.from_metadata(metadata)
    crops = fixture.crops(metadata)
    reference = reference_outputs(version_dir, crops)
    on_keypoints = reduced_precision(runtime)
    return each_gear(
        version_dir,
        runtime,
        lambda backend, gear: check_gear(
            backend, gear, crops, reference, fixture, codec, options, on_keypoints
        ),
    )


def report(label: str, results: list[GearResult], on_keypoints: bool) -> str:
    judged = "keypoints (fp16 precision mode)" if on_keypoints else "heatmaps"
    lines = [f"{label}: judged on {judged}"]
    lines.append(
        "  gear  max|heatmap diff|  keypoint diff (cells)  keypoint diff (px)  first call ms  p50 ms  result"
    )
    for r in results:
        verdict = "ok" if r.passed else "MISMATCH"
        lines.append(
            f"  {r.gear:>4}  {r.heatmap_diff:>18.3g}  {r.keypoint_cells:>21.3g}  {r.keypoint_px:>18.3g}"
            f"  {r.first_ms:>13.1f}  {r.p50_ms:>6.1f}  {verdict}"
        )
    return "\n".join(lines)


def detector_report(label: str, results: list[DetectorGearResult], on_boxes_only: bool) -> str:
    judged = "person boxes" if on_boxes_only else "outputs and person boxes"
    if on_boxes_only:
        judged += " (fp16 precision mode)"
    lines = [f"{label}: judged on {judged}"]
    lines.append(
        "  gear  max|output diff|  persons (onnxruntime/backend)  box corner diff (px)  first call ms"
        "  p50 ms  result"
    )
    for r in results:
        verdict = "ok" if r.passed else "MISMATCH"
        persons = f"{r.persons}/{r.persons_found}"
        lines.append(
            f"  {r.gear:>4}  {r.output_diff:>17.3g}  {persons:>29}  {r.box_px:>20.3g}"
            f"  {r.first_ms:>13.1f}  {r.p50_ms:>6.1f}  {verdict}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.backends.check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model-repo", type=Path, required=True)
    parser.add_argument("--backend", choices=list(BACKENDS), required=True)
    lite = LiteOptions()
    parser.add_argument("--target", choices=get_args(LiteTarget), default=lite.target, help="Lite target")
    parser.add_argument("--device-id", type=int, default=lite.device_id, help="Lite device id")
    parser.add_argument("--precision-mode", default=lite.precision_mode, help="Lite precision mode")
    parser.add_argument(
        "--gears", default=",".join(map(str, lite.gears)), help="Lite batch gears, e.g. 1,2,4,8"
    )
    parser.add_argument("--fixtures", type=Path, default=MPII_SAMPLE_DIR, help="annot/valid.h5 + images/")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per gear (p50 reported)")
    parser.add_argument("--heatmap-tolerance", type=float, default=1e-3, help="fp32: largest heatmap diff")
    parser.add_argument(
        "--keypoint-tolerance",
        type=float,
        default=1.0,
        help="fp16 modes: largest keypoint diff in heatmap cells",
    )
    parser.add_argument(
        "--output-tolerance", type=float, default=1e-3, help="fp32 detectors: largest output diff"
    )
    parser.add_argument(
        "--box-tolerance",
        type=float,
        default=2.0,
        help="detectors: largest person box corner diff in image pixels",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        gears = check_gears([int(g) for g in options.gears.split(",") if g.strip()])
    except ValueError as error:
        print(f"error: --gears: {error}", file=sys.stderr)
        return EXIT_UNLOADABLE
    lite = LiteOptions(options.target, options.device_id, options.precision_mode, gears=gears)
    runtime = RuntimeOptions(
        model_repo=options.model_repo, backend=options.backend, backends=BackendOptions(lite=lite)
    )
    fixture = read_fixture(options.fixtures)
    on_keypoints = reduced_precision(runtime)
    versions = version_folders(runtime.model_repo)
    if not versions:
        print(f"no model versions under {runtime.model_repo}", file=sys.stderr)
        return EXIT_UNLOADABLE
    status = 0
    for (name, version), path in versions.items():
        label = f"{name}:{version} on {options.backend}"
        model_file = backend_spec(options.backend).model_file(path)
        if not (path / model_file).is_file():
            # e.g. an int8 version (training.quantize) has no MINDIR: not this backend's to serve
            print(f"{label}: skipped, the version has no {model_file}")
            continue
        try:
            results: list[GearResult] | list[DetectorGearResult]
            if isinstance(read_version_metadata(path), DetectorMetadata):
                results = check_detector(path, runtime, fixture, options)
                print(detector_report(label, results, on_keypoints))
            else:
                results = check_version(path, runtime, fixture, options)
                print(report(label, results, on_keypoints))
        except Exception as error:  # any runtime's own error: report it, check the other versions
            print(f"{label}: CANNOT LOAD OR RUN: {error}")
            status = max(status, EXIT_UNLOADABLE)
            continue
        if not all(r.passed for r in results):
            status = max(status, EXIT_MISMATCH)
    print("PASS" if status == 0 else "FAIL")
    return status


if __name__ == "__main__":
    sys.exit(main())
