"""Generalisation measured, not assumed: a model's seed PCK per style family of the generator, and on the
five real MPII persons shipped in core/data/mpii_sample.

    python -m training.generalisation score --model model_repo/hourglass/6 [--persons 100] [--seed 7]
    python -m training.generalisation score --torch-model runs/x/model.pt --features 256 --input-size 256 \
        [--held-out FAMILY]
    python -m training.generalisation holdout --hold-out textured --train-data DIR --out runs/holdout \\
        [--seconds 300] [-- more training.train_torch flags]

`score` generates (once) a validation split per family under --data (`python -m training.synth --families F
--train 0 --val N`), crops every person at its annotated centre and scale (training.dataset.crop_batch, i.e.
core.geometry), runs the model on the crop and its mirror (onnxruntime on an exported model.onnx, or the
PyTorch network of a training.train_torch checkpoint), decodes with core.codec and scores with core.metrics.
It prints one table row per family plus the MPII row, and writes the figures as JSON with --json.

`holdout` trains with `training.train_torch` on --train-data with one family left out
(`--exclude-family`), then scores the result as `score` does and reports held-out against in-distribution
PCK (the mean over the families it trained on) and their gap; the issue's goal is a gap below 0.10. It runs
on a GPU when PyTorch sees one, else (slowly) on the CPU.
"""

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.codec import HeatmapCodec
from core.metrics import score_predictions
from core.model_repo import ModelRepositoryError, read_metadata
from core.mpii import MPII_SAMPLE_DIR, MPII_SAMPLE_PERSONS, MpiiAnnotations, read_annotations
from training.scoring import LastStack, predict_keypoints
from training.synth.families import FAMILIES
from training.synth.parallel import generate

# The repository's copy of five real MPII validation persons (annot/valid.h5 + the images of the first five).
MPII_ROW = "MPII (5 real persons)"
VALIDATION_SEED = 7  # not the seeds that training sets use
VALIDATION_IMAGE_SIZE = (320, 448)


@dataclass(frozen=True)
class Row:
    name: str
    persons: int
    pck: float  # seed metric, all counted joints
    pck_visible: float
    pck_occluded: float
    pckh: float  # official PCKh@0.5 mean, percent


def onnx_predictor(version_dir: Path, threads: int = 0) -> tuple[LastStack, HeatmapCodec]:
    """An exported model version (model.onnx + metadata.json) under onnxruntime on the CPU."""
    import onnxruntime as ort

    metadata = read_metadata(version_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(version_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    input_name = session.get_inputs()[0].name

    def predict(crops: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: np.ascontiguousarray(crops, dtype=np.float32)})[0][:, -1]

    return predict, HeatmapCodec.from_metadata(metadata)


def torch_predictor(checkpoint: Path, features: int, input_size: int) -> tuple[LastStack, HeatmapCodec]:
    """A training.train_torch checkpoint (reference layout) on the GPU when there is one."""
    import torch

    from training.torch_network import PoseNet

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    net = PoseNet(2, features)
    net.load_state_dict({key.removeprefix("model.module."): value for key, value in state.items()})
    net.to(device).eval()

    @torch.no_grad()
    def predict(crops: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(np.ascontiguousarray(crops)).to(device))[:, -1].float().cpu().numpy()

    return predict, HeatmapCodec.for_input_size(input_size)


def score(
    name: str,
    predict: LastStack,
    codec: HeatmapCodec,
    annotations: MpiiAnnotations,
    image_dir: Path,
    batch: int = 16,
) -> Row:
    """Seed PCK with the flip test, as the service and training.eval compute it."""
    preds, _ = predict_keypoints(
        predict, annotations, image_dir, codec.input_size, flip=True, batch_size=batch
    )
    report = score_predictions(annotations, preds, pred_origin=0)
    return Row(
        name,
        len(annotations),
        report.seed.ratio("all", "total"),
        report.seed.ratio("visible", "total"),
        report.seed.ratio("not visible", "total"),
        report.official["Mean"],
    )


def validation_sets(data: Path, persons: int, seed: int, workers: int | None) -> dict[str, Path]:
    """A validation split per family under data/<family>, generated when missing or of another size."""
    folders = {}
    for family in FAMILIES:
        folder = data / family
        annotation = folder / "annot" / "valid.h5"
        if not annotation.is_file() or len(read_annotations(annotation)) != persons:
            generate(folder, 0, persons, seed, VALIDATION_IMAGE_SIZE, workers, (family,))
        folders[family] = folder
    return folders


def score_all(
    predict: LastStack, codec: HeatmapCodec, folders: dict[str, Path], mpii_dir: Path = MPII_SAMPLE_DIR
) -> list[Row]:
    rows = [
        score(family, predict, codec, read_annotations(folder / "annot" / "valid.h5"), folder / "images")
        for family, folder in folders.items()
    ]
    mpii = read_annotations(mpii_dir / "annot" / "valid.h5").subset(MPII_SAMPLE_PERSONS)
    rows.append(score(MPII_ROW, predict, codec, mpii, mpii_dir / "images"))
    return rows


def format_table(rows: list[Row], held_out: str | None = None) -> str:
    lines = [
        "| set | persons | seed PCK | visible | occluded | PCKh@0.5 mean |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        label = f"{row.name} (held out)" if row.name == held_out else row.name
        lines.append(
            f"| {label} | {row.persons} | {row.pck:.3f} | {row.pck_visible:.3f} | {row.pck_occluded:.3f} "
            f"| {row.pckh:.2f} |"
        )
    return "\n".join(lines)


def gap_summary(rows: list[Row], held_out: str) -> dict[str, float]:
    """Held-out PCK, the mean PCK of the families trained on, and the gap between them."""
    family_rows = {row.name: row for row in rows if row.name in FAMILIES}
    in_distribution = float(np.mean([r.pck for name, r in family_rows.items() if name != held_out]))
    held = family_rows[held_out].pck
    return {"held_out_pck": held, "in_distribution_pck": in_distribution, "gap": in_distribution - held}


def _predictor(args: argparse.Namespace) -> tuple[LastStack, HeatmapCodec]:
    if args.model is not None:
        return onnx_predictor(args.model)
    return torch_predictor(args.torch_model, args.features, args.input_size)


def _write_json(path: Path | None, payload: dict[str, object]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.generalisation",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    score_parser = commands.add_parser("score", help="score a model per family and on the MPII fixtures")
    holdout_parser = commands.add_parser("holdout", help="train with one family held out, then score it")
    for sub in (score_parser, holdout_parser):
        sub.add_argument("--data", type=Path, default=Path("data/generalisation"), help="validation splits")
        sub.add_argument("--persons", type=int, default=100, help="validation persons per family")
        sub.add_argument("--seed", type=int, default=VALIDATION_SEED, help="seed of the validation splits")
        sub.add_argument("--generator-workers", type=int, default=None, help="processes generating data")
        sub.add_argument("--json", type=Path, default=None, help="write the figures here")
        sub.add_argument("--features", type=int, default=256)
        sub.add_argument("--input-size", type=int, default=256)
        sub.add_argument(
            "--mpii", type=Path, default=MPII_SAMPLE_DIR, help="MPII folder: its first 5 persons"
        )
    which = score_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", type=Path, help="an exported version folder (model.onnx, metadata.json)")
    which.add_argument("--torch-model", type=Path, help="a training.train_torch model.pt")
    score_parser.add_argument(
        "--held-out",
        choices=FAMILIES,
        default=None,
        help="the family the model was trained without: report the gap",
    )
    holdout_parser.add_argument("--hold-out", choices=FAMILIES, required=True)
    holdout_parser.add_argument(
        "--train-data", type=Path, required=True, help="training.synth output (all families)"
    )
    holdout_parser.add_argument(
        "--out", type=Path, required=True, help="training.train_torch's output folder"
    )
    args, train_flags = parser.parse_known_args(argv)
    if args.command == "score" and train_flags:
        parser.error(f"unrecognised arguments: {' '.join(train_flags)}")

    folders = validation_sets(args.data, args.persons, args.seed, args.generator_workers)
    held_out = args.held_out if args.command == "score" else args.hold_out
    if args.command == "holdout":
        from training import train_torch

        flags = ["--data", str(args.train_data), "--out", str(args.out), "--exclude-family", held_out]
        flags += ["--features", str(args.features), "--input-size", str(args.input_size), *train_flags]
        train_torch.main(flags)
        args.torch_model, args.model = args.out / "model.pt", None
    try:
        predict, codec = _predictor(args)
    except ModelRepositoryError as error:  # a --model folder that is no exported version
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = score_all(predict, codec, folders, args.mpii)
    print(format_table(rows, held_out))
    payload: dict[str, object] = {"rows": [asdict(row) for row in rows], "persons_per_family": args.persons}
    if held_out is not None:
        summary = gap_summary(rows, held_out)
        payload |= {"held_out": held_out, **summary}
        print(
            f"held out {held_out}: PCK {summary['held_out_pck']:.3f}, in distribution "
            f"{summary['in_distribution_pck']:.3f}, gap {summary['gap']:.3f} (goal: below 0.10)"
        )
    _write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
