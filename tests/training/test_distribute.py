"""run_distribute_train.sh for real: two CPU workers under msrun train data parallel and end identical."""

import os
import subprocess
import sys
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from helpers import REPO_ROOT, free_port

from training.network import StackedHourglass
from training.synth import generate
from training.train import FINAL_CHECKPOINT, LOG_FILE

pytestmark = pytest.mark.slow

SCRIPT = REPO_ROOT / "training" / "run_distribute_train.sh"
FEATURES = 16


def trainable(checkpoint: Path) -> dict[str, np.ndarray]:
    """Trainable parameters only: BN moving statistics follow each rank's own batches and may differ."""
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(checkpoint)).items() if "moving_" not in k}


def test_two_cpu_workers_end_with_identical_weights(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    generate(data, train=16, val=0, seed=2, workers=1)
    out = tmp_path / "run"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MASTER_PORT": str(free_port()),
    }
    flags = ["--input-size", "64", "--features", str(FEATURES), "--batch-size", "4", "--epochs", "1"]
    flags += ["--workers", "1", "--eval-limit", "0", "--log-every", "1", "--no-progress"]
    result = subprocess.run(
        ["bash", str(SCRIPT), "2", str(data), str(out), *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    rank_logs = [(out / f"rank_{r}" / LOG_FILE).read_text() for r in (0, 1)]
    for log in rank_logs:
        assert "on 2 device(s)" in log and "epoch: 1 step: 2, loss is" in log
    # Each rank saw its own shard of the data ...
    assert rank_logs[0].splitlines()[1] != rank_logs[1].splitlines()[1]
    # ... yet gradients were averaged, so the weights agree exactly.
    rank0, rank1 = (trainable(out / f"rank_{r}" / FINAL_CHECKPOINT) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
    ms.set_seed(1)
    initial = {p.name: p.asnumpy() for p in StackedHourglass(2, FEATURES).trainable_params()}
    assert initial.keys() == rank0.keys()
    moved = max(float(np.abs(initial[name] - rank0[name]).max()) for name in initial)
    assert 0 < moved < 0.01  # two Adam steps of lr 1e-3 from the same seeded initial weights
