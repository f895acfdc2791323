"""Evaluate a checkpoint on MPII-layout annotations: the seed's PCK report and the official PCKh table.

    python -m training.eval --ckpt CKPT --annot DIR_OR_H5 --images DIR [--input-size 256] [--no-flip]
                            [--limit N] [--out DIR]

Crops every annotated person at its centre/scale (docs/reference.md#decoding), runs the network on the
crop and (flip test, the default) on its mirror, decodes with core.codec and scores with core.metrics.
Writes result.txt (the printed report), result.json and preds.h5 (0-based image coordinates) to --out. The
oneDNN ISA cap (docs/reference.md#avx-512-trap) is set by importing `training.isa_cap`, before MindSpore
loads.
"""

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

import mindspore as ms
import numpy as np
from mindspore import nn

from core.metrics import ScoreReport, score_predictions
from core.mpii import MpiiAnnotations, read_annotations, write_predictions
from runtime.options import MINDSPORE_TARGETS
from training.checkpoints import load_network
from training.runtime import use_device
from training.scoring import predict_keypoints

RESULT_FILE = "result.txt"
RESULT_JSON = "result.json"
PREDICTIONS_FILE = "preds.h5"


@dataclass(frozen=True)
class Evaluation:
    preds: np.ndarray  # (N, 16, 2) 0-based image pixels
    scores: np.ndarray  # (N, 16) heatmap peak values
    report: ScoreReport
    seconds: float


def resolve_annotation_file(path: Path) -> Path:
    """An h5 file as given, or DIR/valid.h5 (also DIR/annot/valid.h5) for an MPII-layout folder."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "valid.h5", path / "annot" / "valid.h5"):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"no valid.h5 in {path} or {path / 'annot'}")
    return path


def _last_stack(net: nn.Cell, batch: np.ndarray, batch_size: int) -> np.ndarray:
    """Last-stack heatmaps; short batches are padded to `batch_size` so graph mode compiles one shape."""
    count = len(batch)
    if count < batch_size:
        batch = np.concatenate([batch, np.zeros((batch_size - count, *batch.shape[1:]), np.float32)])
    output = net(ms.Tensor(np.ascontiguousarray(batch))).asnumpy()
    return output[:count, -1]


def evaluate(
    net: nn.Cell,
    annotations: MpiiAnnotations,
    image_dir: Path,
    input_size: int,
    flip: bool = True,
    batch_size: int = 8,
) -> Evaluation:
    """Predict every entry of `annotations` and score the predictions (0-based) with core.metrics."""
    started = time.perf_counter()
    net.set_train(False)

    def last_stack(crops: np.ndarray) -> np.ndarray:
        return _last_stack(net, crops, batch_size)

    preds, scores = predict_keypoints(last_stack, annotations, image_dir, input_size, flip, batch_size)
    report = score_predictions(annotations, preds, pred_origin=0)
    return Evaluation(preds, scores, report, time.perf_counter() - started)


def write_results(out: Path, evaluation: Evaluation, header: str = "") -> Path:
    """result.txt (header + report), result.json and preds.h5 in `out`; returns result.txt's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_predictions(out / PREDICTIONS_FILE, evaluation.preds)
    (out / RESULT_JSON).write_text(
        json.dumps({**evaluation.report.to_dict(), "seconds": evaluation.seconds}, indent=2) + "\n"
    )
    result = out / RESULT_FILE
    result.write_text(header + evaluation.report.text())
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate a stacked hourglass checkpoint (seed PCK + PCKh).")
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--annot", type=Path, required=True, help="annotation h5, or a folder with valid.h5")
    parser.add_argument("--images", type=Path, required=True, help="image folder")
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="flip test")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N entries")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for result.txt and preds.h5")
    parser.add_argument("--device-target", default="CPU", choices=MINDSPORE_TARGETS)
    args = parser.parse_args(argv)

    use_device(args.device_target)
    annotations = read_annotations(resolve_annotation_file(args.annot))
    if args.limit is not None:
        annotations = annotations.subset(args.limit)
    net, config = load_network(args.ckpt)
    evaluation = evaluate(net, annotations, args.images, args.input_size, args.flip, args.batch_size)
    header = (
        f"checkpoint: {args.ckpt}\nnstack {config.nstack}, features {config.features}, "
        f"input {args.input_size}, flip test {'on' if args.flip else 'off'}, "
        f"{len(annotations)} persons, {evaluation.seconds:.1f} s\n\n"
    )
    result = write_results(args.out, evaluation, header)
    print(result.read_text(), end="")
    print(f"wrote {result}, {args.out / RESULT_JSON} and {args.out / PREDICTIONS_FILE}")


if __name__ == "__main__":
    main()
