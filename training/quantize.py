"""int8 post-training quantisation of a model version with NNCF, written only if it keeps its accuracy.

    python -m training.quantize --name hourglass --version 6 --data data/gen_no_textured [--repo model_repo]
        [--to-version V] [--calibration-persons 300] [--validation-persons 300] [--max-drop 0.5]
        [--runtimes openvino [onnxruntime]] [--preset mixed] [--ignore NODE ...] [--seed 0] [--force]

1. Calibration: `--calibration-persons` persons drawn from the training split (annot/train.h5), cropped
   at their annotated centre and scale by core's crop; every other crop is mirrored, because the service
   runs each person's mirror as well (flip test).
2. NNCF quantises the version's model.onnx (upgraded to opset 13 first, so that weights get per-channel
   scales). NNCF places its quantisers for residual networks, where onnxruntime's own quantiser ruins the
   hourglass's residual stream. The result is written as model.onnx (QDQ) and, converted, as an OpenVINO
   IR (model.xml + model.bin), which the openvino backend serves.
3. Guardrail: the first `--validation-persons` persons of annot/valid.h5 are scored with the seed metric
   (PCK@0.5, all joints, flip test) through core's crop and codec, for the fp32 source and the int8 result,
   on each of `--runtimes` through the service's own backend (OpenVINO by default: the runtime that serves
   int8). If int8 loses more than `--max-drop` PCK points on any of them, nothing is written unless
   --force. Both figures go into metadata.json (`quantization.accuracy`), with `precision: int8` and the
   `source_version`.
"""

import argparse
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import version_converter

from core.metrics import score_predictions
from core.model_repo import (
    FP32,
    INT8,
    ONNX_FILE,
    OPENVINO_IR_FILE,
    OPENVINO_WEIGHTS_FILE,
    ModelMetadata,
    ModelRepositoryError,
    describe_file,
    install_version_dir,
    list_versions,
    read_metadata,
    verify_file,
    write_metadata,
)
from core.mpii import MpiiAnnotations, read_annotations
from runtime.backends import create_backend
from runtime.options import RuntimeOptions
from training.dataset import crop_batch
from training.scoring import predict_keypoints

PER_CHANNEL_OPSET = 13  # ONNX's QuantizeLinear takes per-channel scales from opset 13 on
DEFAULT_MAX_DROP_POINTS = 0.5
DEFAULT_RUNTIMES = ("openvino",)
RUNTIME_CHOICES = ("openvino", "onnxruntime")
PRESETS = ("mixed", "performance")
METRIC = "seed PCK@0.5, all joints, flip test, through core's crop and codec"


class QuantizeError(RuntimeError):
    """The source cannot be quantised, or the result failed its guardrail; nothing was written."""


@dataclass(frozen=True)
class RuntimeAccuracy:
    """Seed PCK (a fraction) of the fp32 source and the int8 result on one runtime."""

    fp32: float
    int8: float

    @property
    def drop_points(self) -> float:
        return 100.0 * (self.fp32 - self.int8)


@dataclass(frozen=True)
class QuantizeRequest:
    repo: Path
    name: str
    version: int
    data: Path
    to_version: int | None = None
    calibration_persons: int = 300
    validation_persons: int = 300
    max_drop_points: float = DEFAULT_MAX_DROP_POINTS
    runtimes: tuple[str, ...] = DEFAULT_RUNTIMES
    preset: str = "mixed"
    ignored_nodes: tuple[str, ...] = ()
    seed: int = 0
    force: bool = False


def calibration_crops(
    annotations: MpiiAnnotations, image_dir: Path, input_size: int, count: int, seed: int
) -> np.ndarray:
    """`count` persons drawn without replacement, cropped by core; every other crop mirrored."""
    if count < 1 or len(annotations) == 0:
        raise QuantizeError(f"calibration needs at least one person (asked {count}, have {len(annotations)})")
    drawn = np.random.default_rng(seed).choice(len(annotations), min(count, len(annotations)), replace=False)
    chosen = np.sort(drawn)
    crops = crop_batch(annotations.select(chosen), range(len(chosen)), image_dir, input_size)
    crops[1::2] = crops[1::2, :, ::-1]
    return crops


def with_per_channel_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return version_converter.convert_version(model, PER_CHANNEL_OPSET) if opset < PER_CHANNEL_OPSET else model


def quantize_onnx(
    model: onnx.ModelProto, crops: np.ndarray, preset: str, ignored_nodes: tuple[str, ...]
) -> onnx.ModelProto:
    """NNCF's static post-training quantisation, with fast bias correction, on the calibration crops."""
    import nncf

    input_name = model.graph.input[0].name
    dataset = nncf.Dataset([crops[i : i + 1] for i in range(len(crops))], lambda crop: {input_name: crop})
    presets = {"mixed": nncf.QuantizationPreset.MIXED, "performance": nncf.QuantizationPreset.PERFORMANCE}
    return nncf.quantize(
        model,
        dataset,
        preset=presets[preset],
        subset_size=len(crops),
        ignored_scope=nncf.IgnoredScope(names=list(ignored_nodes)) if ignored_nodes else None,
    )


def write_ir(onnx_path: Path, ir_path: Path) -> None:
    """The OpenVINO IR of an ONNX file, weights kept as they are (no fp16 compression)."""
    import openvino as ov

    ov.save_model(ov.convert_model(str(onnx_path)), str(ir_path), compress_to_fp16=False)


def seed_pck(
    version_dir: Path, runtime: str, annotations: MpiiAnnotations, image_dir: Path, input_size: int
) -> float:
    """Seed PCK of the files in `version_dir` served by the runtime's `runtime` backend."""
    backend = create_backend(runtime, version_dir, RuntimeOptions(backend=runtime))
    try:
        preds, _ = predict_keypoints(
            lambda crops: backend.infer(crops)[:, -1], annotations, image_dir, input_size, flip=True
        )
    finally:
        backend.close()
    return score_predictions(annotations, preds, pred_origin=0).seed.ratio("all", "total")


def _source(request: QuantizeRequest) -> tuple[Path, ModelMetadata]:
    source_dir = Path(request.repo) / request.name / str(request.version)
    metadata = read_metadata(source_dir)
    if metadata.precision != FP32:
        raise QuantizeError(f"{request.name}:{request.version} is {metadata.precision}, not fp32")
    verify_file(source_dir, metadata, ONNX_FILE)
    return source_dir, metadata


def _library_versions() -> dict[str, str]:
    import nncf
    import openvino as ov

    return {"nncf": nncf.__version__, "openvino": ov.get_version(), "onnx": onnx.__version__}


def quantize_version(request: QuantizeRequest) -> tuple[Path, dict[str, RuntimeAccuracy]]:
    """Quantise, score, and install the int8 version; returns its folder and the accuracy per runtime."""
    source_dir, source = _source(request)
    model_dir = Path(request.repo) / request.name
    target_version = request.to_version or max(list_versions(model_dir)) + 1
    target = model_dir / str(target_version)
    if target.exists() and not request.force:
        raise QuantizeError(f"{target} already exists (use --force to replace it)")
    size = source.input.height
    images = Path(request.data) / "images"
    train = read_annotations(Path(request.data) / "annot" / "train.h5")
    valid = read_annotations(Path(request.data) / "annot" / "valid.h5").subset(request.validation_persons)
    crops = calibration_crops(train, images, size, request.calibration_persons, request.seed)

    model = with_per_channel_opset(onnx.load(str(source_dir / ONNX_FILE)))
    quantized = quantize_onnx(model, crops, request.preset, request.ignored_nodes)
    with tempfile.TemporaryDirectory(prefix="hgpose-quantize-") as staging_dir:
        staging = Path(staging_dir)
        onnx.save(quantized, str(staging / ONNX_FILE))
        write_ir(staging / ONNX_FILE, staging / OPENVINO_IR_FILE)
        accuracy = {
            runtime: RuntimeAccuracy(
                fp32=seed_pck(source_dir, runtime, valid, images, size),
                int8=seed_pck(staging, runtime, valid, images, size),
            )
            for runtime in request.runtimes
        }
        failed = {r: a for r, a in accuracy.items() if a.drop_points > request.max_drop_points}
        if failed and not request.force:
            losses = ", ".join(f"{r}: {a.fp32:.4f} -> {a.int8:.4f}" for r, a in failed.items())
            raise QuantizeError(
                f"int8 loses more than {request.max_drop_points} seed PCK points ({losses}); nothing written "
                "(--force writes it anyway; --ignore keeps named nodes in fp32)"
            )
        files = (ONNX_FILE, OPENVINO_IR_FILE, OPENVINO_WEIGHTS_FILE)
        metadata = replace(
            source,
            version=target_version,
            files={name: describe_file(staging / name) for name in files},
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            exporter={
                "tool": "training.quantize",
                **_library_versions(),
                "onnx_opset": PER_CHANNEL_OPSET,
                "dynamic_batch": True,
            },
            precision=INT8,
            source_version=request.version,
            quantization=_quantization_record(request, len(crops), len(valid), accuracy, bool(failed)),
        )
        write_metadata(staging, metadata)
        install_version_dir(staging, target, request.force)
    return target, accuracy


def _quantization_record(
    request: QuantizeRequest,
    calibration_count: int,
    validation_count: int,
    accuracy: dict[str, RuntimeAccuracy],
    forced: bool,
) -> dict[str, Any]:
    return {
        "method": "nncf.quantize, static post-training, fast bias correction",
        "preset": request.preset,
        "ignored_nodes": list(request.ignored_nodes),
        "calibration": {
            "data": f"{request.data}/annot/train.h5",
            "persons": calibration_count,
            "seed": request.seed,
            "crops": "core's crop at the annotated centre and scale; every other crop mirrored",
        },
        "accuracy": {
            "metric": METRIC,
            "data": f"{request.data}/annot/valid.h5, first {validation_count} persons",
            "max_drop_points": request.max_drop_points,
            "forced_past_guardrail": forced,
            "runtimes": {
                runtime: {**asdict(result), "drop_points": round(result.drop_points, 3)}
                for runtime, result in accuracy.items()
            },
        },
    }


def parse_args(argv: list[str] | None) -> QuantizeRequest:
    parser = argparse.ArgumentParser(prog="python -m training.quantize", description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=Path("model_repo"), help="model repository root")
    parser.add_argument("--name", required=True, help="model name")
    parser.add_argument("--version", type=int, required=True, help="the fp32 version to quantise")
    parser.add_argument("--data", type=Path, required=True, help="MPII-layout folder: annot/, images/")
    parser.add_argument("--to-version", type=int, help="version to write (default: newest + 1)")
    parser.add_argument("--calibration-persons", type=int, default=300)
    parser.add_argument("--validation-persons", type=int, default=300)
    parser.add_argument(
        "--max-drop", type=float, default=DEFAULT_MAX_DROP_POINTS, help="most seed PCK points int8 may lose"
    )
    parser.add_argument(
        "--runtimes", nargs="+", choices=RUNTIME_CHOICES, default=list(DEFAULT_RUNTIMES),
        help="backends the guardrail scores on (default: openvino, which serves int8)",
    )  # fmt: skip
    parser.add_argument("--preset", choices=PRESETS, default="mixed", help="NNCF quantisation preset")
    parser.add_argument("--ignore", action="append", default=[], help="ONNX node name kept in fp32")
    parser.add_argument("--seed", type=int, default=0, help="draws the calibration persons")
    parser.add_argument("--force", action="store_true", help="write past the guardrail / over a version")
    args = parser.parse_args(argv)
    return QuantizeRequest(
        repo=args.repo,
        name=args.name,
        version=args.version,
        data=args.data,
        to_version=args.to_version,
        calibration_persons=args.calibration_persons,
        validation_persons=args.validation_persons,
        max_drop_points=args.max_drop,
        runtimes=tuple(dict.fromkeys(args.runtimes)),
        preset=args.preset,
        ignored_nodes=tuple(args.ignore),
        seed=args.seed,
        force=args.force,
    )


def main(argv: list[str] | None = None) -> int:
    request = parse_args(argv)
    try:
        target, accuracy = quantize_version(request)
    except (QuantizeError, ModelRepositoryError, FileNotFoundError) as error:
        print(f"quantize failed, nothing written: {error}", file=sys.stderr)
        return 1
    for runtime, result in accuracy.items():
        print(
            f"{runtime}: seed PCK fp32 {result.fp32:.4f}, int8 {result.int8:.4f} "
            f"({result.drop_points:+.2f} points lost)"
        )
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
