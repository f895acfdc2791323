"""Recover a MindSpore `.ckpt` from a model version's `model.onnx`, to fine-tune a shipped model.

    python -m training.import_onnx model_repo/hourglass/6/model.onnx --out runs/v6.ckpt

`training.export` writes the network's parameters into the ONNX graph as initializers under their
MindSpore names (BatchNorm statistics included), so the checkpoint is those initializers that name a
network parameter. The others (constants of the upsampling nodes) are left out. The export drops the
1x1 skip convolutions that the reference builds but never runs (residuals whose input and output widths
agree): those keep a fresh network's values, which no output depends on. The result is loaded strictly into
a fresh network before it is written, so a written file always loads.
"""

import sys
from pathlib import Path

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

import numpy as np
from mindspore import nn

from training.checkpoints import load_strict, save_checkpoint
from training.import_cli import run_importer
from training.network import Residual, count_parameters, infer_config


def onnx_parameters(path: Path) -> dict[str, np.ndarray]:
    """Every float initializer of the ONNX graph, by name."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    arrays = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    return {name: np.ascontiguousarray(a, np.float32) for name, a in arrays.items() if a.dtype.kind == "f"}


def unused_parameter_names(net: nn.Cell) -> set[str]:
    """The parameters of skip convolutions that their residual never runs."""
    return {
        param.name
        for _, cell in net.cells_and_names()
        if isinstance(cell, Residual) and not cell.need_skip
        for param in cell.skip_layer.get_parameters()
    }


def import_onnx_model(source: Path, out: Path) -> dict[str, int]:
    arrays = onnx_parameters(source)
    config = infer_config(arrays)
    net = config.build()
    unused = unused_parameter_names(net)
    params: dict[str, np.ndarray] = {}
    for param in net.get_parameters():
        if param.name in arrays:
            params[param.name] = arrays[param.name]
        elif param.name in unused:
            params[param.name] = param.asnumpy()
    load_strict(net, params)
    save_checkpoint(params, out)
    return {
        "nstack": config.nstack,
        "features": config.features,
        "num_joints": config.num_joints,
        "trainable_parameters": count_parameters(net),
    }


def main(argv: list[str] | None = None) -> int:
    return run_importer(
        argv,
        "python -m training.import_onnx",
        __doc__ or "",
        "model.onnx written by training.export",
        import_onnx_model,
    )


if __name__ == "__main__":
    sys.exit(main())
