"""Acceptance check of a backend on real hardware: every model version, every batch gear, against onnxruntime.

    python -m runtime.backends.check --model-repo REPO --backend lite --target ascend [--fixtures DIR]

Loads every version of every model in REPO on the chosen backend (the runtime's default options, with the
flags below on top), crops the first five persons of the MPII fixture (`--fixtures`: a folder with
annot/valid.h5 and images/, by default core/data/mpii_sample, shipped with the package) with core's crop,
and runs them at every batch gear (the rows cycle through the five crops). Each row is
compared with onnxruntime on CPU: the largest heatmap difference, and the keypoint difference in heatmap
cells and image pixels. fp32 precision is judged on heatmaps, the fp16 precision modes on keypoints. Each
gear's first call is timed on its own (on Ascend it includes compiling that gear), then the gear is timed
(p50 of --runs). Prints a report; exits 1 on a mismatch, 2 when a version cannot be loaded or run.
"""

import argparse
import logging
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import cv2
import numpy as np

from core.codec import HeatmapCodec
from core.geometry import crop_image
from core.model_repo import ONNX_FILE, POSE, ModelMetadata, read_metadata, read_version_metadata
from core.mpii import MPII_SAMPLE_DIR, read_annotations
from runtime.backends import BACKENDS, Backend, backend_spec, create_backend
from runtime.backends.onnxruntime import OnnxRuntimeBackend
from runtime.gears import check_gears
from runtime.options import BackendOptions, LiteOptions, LiteTarget, OnnxRuntimeOptions, RuntimeOptions
from runtime.repository.folders import version_folders

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


@dataclass(frozen=True)
class GearResult:
    gear: int
    heatmap_diff: float
    keypoint_cells: float
    keypoint_px: float
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


def check_version(
    version_dir: Path, runtime: RuntimeOptions, fixture: Fixture, options: argparse.Namespace
) -> list[GearResult]:
    metadata = read_metadata(version_dir)
    codec = HeatmapCodec.from_metadata(metadata)
    crops = fixture.crops(metadata)
    reference_backend = OnnxRuntimeBackend(version_dir / ONNX_FILE, OnnxRuntimeOptions(use_cuda=False))
    try:
        reference = reference_backend.infer(crops)
    finally:
        reference_backend.close()
    backend = create_backend(runtime.backend, version_dir, runtime)
    try:
        gears = backend.batch_sizes or runtime.backends.lite.gears
        on_keypoints = reduced_precision(runtime)
        return [
            check_gear(backend, gear, crops, reference, fixture, codec, options, on_keypoints)
            for gear in gears
        ]
    finally:
        backend.close()


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
        if read_version_metadata(path).kind != POSE:
            print(f"{label}: skipped, not a pose model (the check compares pose heatmaps)")
            continue
        try:
            results = check_version(path, runtime, fixture, options)
        except Exception as error:  # any runtime's own error: report it, check the other versions
            print(f"{label}: CANNOT LOAD OR RUN: {error}")
            status = max(status, EXIT_UNLOADABLE)
            continue
        print(report(label, results, on_keypoints))
        if not all(r.passed for r in results):
            status = max(status, EXIT_MISMATCH)
    print("PASS" if status == 0 else "FAIL")
    return status


if __name__ == "__main__":
    sys.exit(main())
