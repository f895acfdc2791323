"""Export a trained network into the model repository the service reads, proven equal to the network.

    python -m training.export --ckpt CKPT --name NAME --version V [--repo model_repo] [--input-size 256]

Writes REPO/NAME/V/ with model.mindir and model.onnx (NHWC float32, dynamic batch) and metadata.json. Both
files are run on a random batch larger than the ONNX export-time batch, and every row must agree with the
network to PARITY_TOLERANCE; otherwise nothing is written. The version folder is built elsewhere and moved
into place at the end, so a reader never sees a half-written version.
"""

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

import mindspore as ms
import numpy as np
import onnx
import onnxruntime as ort
from mindspore import Tensor, nn
from mindspore.onnx import export as export_onnx

from core.hourglass import INPUT_MULTIPLE, heatmap_side
from core.joints import FLIP_PERMUTATION, JOINT_NAMES, NUM_JOINTS
from core.model_repo import (
    METADATA_FILE,
    MINDIR_FILE,
    ONNX_FILE,
    InputSpec,
    ModelMetadata,
    ModelRepositoryError,
    OutputSpec,
    describe_file,
    install_version_dir,
    sha256_file,
    write_metadata,
)
from training.checkpoints import CheckpointMismatchError, load_network, load_strict
from training.network import StackedHourglass, count_parameters, infer_config
from training.onnx_batch import make_batch_dynamic

PARITY_TOLERANCE = 1e-4
PARITY_BATCH = 3
ONNX_EXPORT_BATCH = 1  # smaller than PARITY_BATCH, so that a baked batch size cannot pass the check
INPUT_NAME = "images"
OUTPUT_NAME = "heatmaps"
PARITY_SEED = 0


class ExportError(RuntimeError):
    """The export could not be written or failed its parity check; nothing was written."""


@dataclass(frozen=True)
class ParityReport:
    """Largest absolute difference to the network, per exported file, over every row of the batch."""

    batch: int
    mindir_max_abs_error: float
    onnx_max_abs_error: float
    tolerance: float = PARITY_TOLERANCE


def _max_row_errors(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    if actual.shape != expected.shape:
        raise ExportError(f"output shape {actual.shape} != network's {expected.shape}")
    return np.abs(actual - expected).reshape(len(expected), -1).max(axis=1)


def run_mindir(path: Path, batch: np.ndarray) -> np.ndarray:
    return nn.GraphCell(ms.load(str(path)))(Tensor(batch)).asnumpy()


def run_onnx(path: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: batch})[0]


def check_parity(net: nn.Cell, mindir: Path, onnx_path: Path, input_size: int) -> ParityReport:
    """Run both files and the network on one random batch; raise ExportError naming any bad row."""
    batch = np.random.default_rng(PARITY_SEED).random((PARITY_BATCH, input_size, input_size, 3), np.float32)
    expected = net(Tensor(batch)).asnumpy()
    errors = {
        MINDIR_FILE: _max_row_errors(expected, run_mindir(mindir, batch)),
        ONNX_FILE: _max_row_errors(expected, run_onnx(onnx_path, batch)),
    }
    for file_name, row_errors in errors.items():
        bad = [f"row {i}: {e:.3g}" for i, e in enumerate(row_errors) if not e <= PARITY_TOLERANCE]
        if bad:
            raise ExportError(f"{file_name} differs from the network by more than {PARITY_TOLERANCE}: {bad}")
    return ParityReport(
        batch=PARITY_BATCH,
        mindir_max_abs_error=float(errors[MINDIR_FILE].max()),
        onnx_max_abs_error=float(errors[ONNX_FILE].max()),
    )


def write_mindir(net: nn.Cell, path: Path, input_size: int) -> None:
    dynamic_input = Tensor(shape=[None, input_size, input_size, 3], dtype=ms.float32)
    ms.export(net, dynamic_input, file_name=str(path.with_suffix("")), file_format="MINDIR")


def mindir_inputs(path: Path) -> list[tuple[str, list[int]]]:
    """The graph inputs stored in a MINDIR (its protobuf's graph.input), which Lite configs name: each one's
    name and dims (-1: dynamic)."""
    from mindspore.train.mind_ir_pb2 import ModelProto

    model = ModelProto()
    model.ParseFromString(path.read_bytes())
    return [
        (value.name, [int(d) for d in value.tensor[0].dims] if value.tensor else [])
        for value in model.graph.input
    ]


def mindir_input_name(path: Path) -> str:
    """The one graph input name of a pose network's MINDIR."""
    names = [name for name, _ in mindir_inputs(path)]
    if len(names) != 1:
        raise ExportError(f"the MINDIR has {len(names)} graph inputs, the pose network has one")
    return names[0]


def write_onnx(net: nn.Cell, path: Path, input_size: int) -> int:
    """Export, rewrite to a true dynamic batch, save; returns the opset."""
    example = Tensor(np.zeros((ONNX_EXPORT_BATCH, input_size, input_size, 3), np.float32))
    export_onnx(
        net,
        example,
        file_name=str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}},
    )
    model = make_batch_dynamic(onnx.load(str(path)))
    onnx.save(model, str(path))
    return int(model.opset_import[0].version)


def fresh_copy(net: StackedHourglass) -> StackedHourglass:
    """A new cell with the same weights, in inference mode.

    MindSpore caches the graph it compiles for an ONNX export per cell, and a second ONNX export of the same
    cell fails inside the exporter (mindspore 2.10: "i: 3 out of range: 3" at a BiasAdd). Exporting a fresh
    copy makes export_network callable any number of times on one network.
    """
    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    copy = infer_config({name: value.shape for name, value in params.items()}).build()
    load_strict(copy, params)
    copy.set_train(False)
    return copy


def _check_arguments(net: StackedHourglass, name: str, version: int, input_size: int) -> None:
    try:
        heatmap_side(input_size)
    except ValueError as error:
        raise ExportError(str(error)) from error
    if version <= 0:
        raise ExportError(f"version must be a positive integer, not {version}")
    if not name or Path(name).name != name or name.startswith("."):
        raise ExportError(f"model name {name!r} must be a plain folder name")
    num_joints = net.outs[0].conv.out_channels
    if num_joints != NUM_JOINTS:
        raise ExportError(f"the network predicts {num_joints} joints; the repository's schema is MPII's 16")


def export_network(
    net: StackedHourglass,
    repo: Path,
    name: str,
    version: int,
    input_size: int,
    provenance: dict[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Write REPO/NAME/VERSION/ (MINDIR, ONNX, metadata) after the parity check; returns that folder.

    Switches MindSpore to graph mode and the network to inference mode. Raises ExportError (and writes
    nothing) on a failed check or when the version exists and force is False.
    """
    _check_arguments(net, name, version, input_size)
    target = Path(repo) / name / str(version)
    if target.exists() and not force:
        raise ExportError(f"{target} already exists (use --force to replace it)")
    ms.set_context(mode=ms.GRAPH_MODE)
    net.set_train(False)
    with tempfile.TemporaryDirectory(prefix="hgpose-export-") as staging_dir:
        staging = Path(staging_dir)
        write_mindir(fresh_copy(net), staging / MINDIR_FILE, input_size)
        opset = write_onnx(fresh_copy(net), staging / ONNX_FILE, input_size)
        parity = check_parity(net, staging / MINDIR_FILE, staging / ONNX_FILE, input_size)
        heatmap_size = heatmap_side(input_size)
        metadata = ModelMetadata(
            name=name,
            version=version,
            input=InputSpec(
                height=input_size, width=input_size, mindir_name=mindir_input_name(staging / MINDIR_FILE)
            ),
            output=OutputSpec(
                nstack=net.nstack,
                num_joints=NUM_JOINTS,
                heatmap_height=heatmap_size,
                heatmap_width=heatmap_size,
            ),
            features=net.outs[0].conv.in_channels,
            joint_names=tuple(JOINT_NAMES),
            flip_permutation=tuple(int(i) for i in FLIP_PERMUTATION),
            parameter_count=count_parameters(net),
            files={file: describe_file(staging / file) for file in (MINDIR_FILE, ONNX_FILE)},
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            exporter={
                "tool": "training.export",
                "mindspore": ms.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": ort.__version__,
                "onnx_opset": opset,
                "dynamic_batch": True,
                "parity": {
                    "batch": parity.batch,
                    "tolerance": parity.tolerance,
                    "mindir_max_abs_error": parity.mindir_max_abs_error,
                    "onnx_max_abs_error": parity.onnx_max_abs_error,
                },
            },
            provenance=dict(provenance or {}),
        )
        write_metadata(staging, metadata)
        install_version_dir(staging, target, force)
    return target


def export_checkpoint(
    ckpt_path: Path,
    repo: Path,
    name: str,
    version: int,
    input_size: int = 256,
    provenance: dict[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Load a checkpoint strictly (configuration inferred) and export it; provenance records its checksum."""
    ckpt_path = Path(ckpt_path)
    net, _ = load_network(ckpt_path)
    source = {"checkpoint": ckpt_path.name, "checkpoint_sha256": sha256_file(ckpt_path)}
    return export_network(net, repo, name, version, input_size, {**source, **(provenance or {})}, force)


def _provenance_from_args(args: argparse.Namespace) -> dict[str, Any]:
    provenance: dict[str, Any] = {}
    if args.provenance is not None:
        loaded = json.loads(args.provenance.read_text())
        if not isinstance(loaded, dict):
            raise SystemExit(f"{args.provenance} must hold a JSON object")
        provenance.update(loaded)
    if args.data is not None:
        provenance["data"] = args.data
    if args.epochs is not None:
        provenance["epochs"] = args.epochs
    return provenance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="MindSpore checkpoint of the network")
    parser.add_argument("--name", required=True, help="model name (folder under the repository)")
    parser.add_argument("--version", type=int, required=True, help="positive integer version")
    parser.add_argument("--repo", type=Path, default=Path("model_repo"), help="model repository root")
    parser.add_argument(
        "--input-size", type=int, default=256, help=f"square input side, a multiple of {INPUT_MULTIPLE}"
    )
    parser.add_argument(
        "--provenance", type=Path, help="JSON object recorded as provenance (eval figures...)"
    )
    parser.add_argument("--data", help="training data description recorded in the provenance")
    parser.add_argument("--epochs", type=int, help="training epochs recorded in the provenance")
    parser.add_argument("--force", action="store_true", help="replace an existing version")
    args = parser.parse_args(argv)
    try:
        target = export_checkpoint(
            args.ckpt,
            args.repo,
            args.name,
            args.version,
            args.input_size,
            _provenance_from_args(args),
            args.force,
        )
    except (ExportError, CheckpointMismatchError, ModelRepositoryError) as error:
        print(f"export failed, nothing written: {error}", file=sys.stderr)
        return 1
    print(f"exported {target}")
    print((target / METADATA_FILE).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
