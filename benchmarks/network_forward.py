"""Forward time per crop of the full 2-stack hourglass at 256 px on CPU: MindSpore vs onnxruntime.

    python benchmarks/network_forward.py [--batches 1 4] [--repeats 3] [--input-size 256]

Exports a random-weight network with training.export (so the parity check runs at full size too), then times
the MINDIR through MindSpore's GraphCell and the ONNX through onnxruntime. Prints the figures with the
versions and the oneDNN ISA cap in force (docs/reference.md#avx-512-trap).
"""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import training.isa_cap  # noqa: F401  (caps oneDNN's ISA before mindspore is imported)

# isort: split
import mindspore as ms
import numpy as np
import onnxruntime as ort
from mindspore import Tensor, nn

from core.model_repo import MINDIR_FILE, ONNX_FILE
from runtime.backends.cpu_isa import ONEDNN_ISA_VARIABLE
from training.export import INPUT_NAME, export_network
from training.network import StackedHourglass


def seconds_per_call(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: graph compilation, allocator
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input-size", type=int, default=256)
    args = parser.parse_args(argv)

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(1)
    net = StackedHourglass(nstack=2, features=256, num_joints=16)
    with tempfile.TemporaryDirectory() as repo:
        start = time.perf_counter()
        version_dir = export_network(net, Path(repo), "bench", 1, args.input_size)
        print(f"export with parity check: {time.perf_counter() - start:.1f} s")
        mindir = nn.GraphCell(ms.load(str(version_dir / MINDIR_FILE)))
        session = ort.InferenceSession(str(version_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
        print(
            f"mindspore {ms.__version__}, onnxruntime {ort.__version__}, "
            f"{ONEDNN_ISA_VARIABLE}={os.environ.get(ONEDNN_ISA_VARIABLE, '(unset)')}, cpus {os.cpu_count()}"
        )
        print(f"{'runtime':<22}{'batch':>6}{'s/crop':>10}")
        for batch in args.batches:
            size = args.input_size
            images = np.random.default_rng(0).random((batch, size, size, 3), np.float32)
            timings = {
                "mindspore GraphCell": seconds_per_call(lambda x=images: mindir(Tensor(x)), args.repeats),
                "onnxruntime": seconds_per_call(
                    lambda x=images: session.run(None, {INPUT_NAME: x}), args.repeats
                ),
            }
            for runtime, seconds in timings.items():
                print(f"{runtime:<22}{batch:>6}{seconds / batch:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
