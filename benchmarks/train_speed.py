"""Training time per sample on this machine: the full network and the CPU demo configuration.

    python benchmarks/train_speed.py [--device-target CPU] [--steps 3] [--configs full demo]

Times whole training steps (forward, MSE loss over both stacks, backward, Adam) in graph mode on random
inputs, after one warm-up step that includes compilation; data loading is not included. Prints one line per
configuration plus the MindSpore version and the oneDNN ISA cap in force.
"""

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.hourglass import heatmap_side
from runtime.backends.cpu_isa import ONEDNN_ISA_VARIABLE, limit_onednn_isa

limit_onednn_isa()

import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402
from mindspore import nn  # noqa: E402

from training.network import StackedHourglass, count_parameters  # noqa: E402
from training.train import HeatmapMSE  # noqa: E402


@dataclass(frozen=True)
class Setting:
    name: str
    input_size: int
    features: int
    batch_size: int


SETTINGS = {
    "full": Setting("full (seed)", 256, 256, 4),
    "demo": Setting("demo", 128, 128, 8),
    "narrow": Setting("narrow demo", 128, 64, 8),
}


def seconds_per_sample(setting: Setting, steps: int) -> tuple[float, float]:
    """(seconds per sample, seconds for the first step incl. compilation)."""
    ms.set_seed(1)
    net = StackedHourglass(2, setting.features)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, HeatmapMSE()), nn.Adam(net.trainable_params(), 1e-3))
    step.set_train()
    rng = np.random.default_rng(0)
    heatmap = heatmap_side(setting.input_size)
    images = ms.Tensor(
        rng.random((setting.batch_size, setting.input_size, setting.input_size, 3), np.float32)
    )
    targets = ms.Tensor(rng.random((setting.batch_size, 16, heatmap, heatmap), np.float32) * 0.01)
    started = time.perf_counter()
    step(images, targets).asnumpy()
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(steps):
        step(images, targets).asnumpy()
    return (time.perf_counter() - started) / (steps * setting.batch_size), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device-target", default="CPU", choices=("CPU", "GPU", "Ascend"))
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up step")
    parser.add_argument("--configs", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args()
    ms.set_device(args.device_target)
    ms.set_context(mode=ms.GRAPH_MODE)
    print(
        f"mindspore {ms.__version__} on {args.device_target}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {ONEDNN_ISA_VARIABLE}={os.environ.get(ONEDNN_ISA_VARIABLE, '(unset)')}"
    )
    for key in args.configs:
        setting = SETTINGS[key]
        per_sample, first = seconds_per_sample(setting, args.steps)
        params = count_parameters(StackedHourglass(2, setting.features))
        print(
            f"{setting.name:15s} input {setting.input_size}, features {setting.features}, {params:,} params, "
            f"batch {setting.batch_size}: {per_sample:.3f} s/sample ({1 / per_sample:.1f} samples/s), "
            f"first step incl. compile {first:.1f} s"
        )


if __name__ == "__main__":
    main()
