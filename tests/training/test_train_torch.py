"""The PyTorch GPU trainer (training/train_torch.py) trains the reference network (training/torch_network.py,
held to the reference's golden forward pass here) on our data pipeline, follows the trainer's lr schedule,
and what it saves imports into ours. Runs on the CPU build of torch."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from training.import_torch import import_torch_checkpoint
from training.synth import generate

pytest.importorskip("torch", reason="torch is optional (extra 'torch'); CI installs it, so they run there")
import torch  # imported after the skip, as are the modules that need it

from training import train_torch
from training.torch_network import PoseNet

GOLDEN_TOLERANCE = 1e-4


def golden_network(golden_dir: Path) -> "PoseNet":
    """The reference's tiny checkpoint (nstack 2, 32 features) loaded strictly into our PoseNet."""
    checkpoint = torch.load(
        golden_dir / "princeton_tiny_nstack2_dim32.pt", map_location="cpu", weights_only=False
    )
    state = {key.removeprefix("model.module."): value for key, value in checkpoint["state_dict"].items()}
    net = PoseNet(2, 32)
    net.load_state_dict(state, strict=True)
    return net.eval()


def forward_error(net: "PoseNet", expected: dict[str, np.ndarray]) -> float:
    """Largest absolute difference of the network's output to the reference's on the golden input."""
    with torch.no_grad():
        output = net(torch.from_numpy(expected["input_nhwc"]).float()).numpy()
    return float(np.abs(output - expected["output"]).max())


def test_its_network_reproduces_the_reference_forward_pass(
    golden_dir: Path, golden_forward: dict[str, np.ndarray]
) -> None:
    assert forward_error(golden_network(golden_dir), golden_forward) <= GOLDEN_TOLERANCE


def test_a_changed_network_is_refused(golden_dir: Path, golden_forward: dict[str, np.ndarray]) -> None:
    """The golden comparison can fail: one changed head bias moves the output past the tolerance."""
    net = golden_network(golden_dir)
    with torch.no_grad():
        net.outs[-1].conv.bias[0] += 1e-3
    assert forward_error(net, golden_forward) > GOLDEN_TOLERANCE


def test_what_it_saves_imports_into_our_network(tmp_path: Path) -> None:
    net = PoseNet(2, 32)
    args = argparse.Namespace(out=tmp_path, data=tmp_path, features=32)
    train_torch.write_outputs(args, net, [])
    summary = import_torch_checkpoint(tmp_path / "model.pt", tmp_path / "imported.ckpt")
    assert (summary["nstack"], summary["features"]) == (2, 32)
    assert summary["trainable_parameters"] == sum(p.numel() for p in net.parameters() if p.requires_grad)


def test_schedule_decays_every_500_steps_and_drops_tenfold_late_in_the_run() -> None:
    schedule = train_torch.Schedule(base_lr=1e-3, total_samples=1000, seconds=100.0, drop_at=0.8)
    assert schedule.lr(499, 0.1) == pytest.approx(1e-3)
    assert schedule.lr(500, 0.1) == pytest.approx(1e-3 * 0.985)
    assert schedule.lr(500, 0.8) == pytest.approx(1e-4 * 0.985)
    assert schedule.progress(samples=100, elapsed=50.0) == pytest.approx(0.5)  # time is further along
    assert schedule.progress(samples=900, elapsed=50.0) == pytest.approx(0.9)  # samples are
    assert train_torch.Schedule(1e-3, 1000).lr(10_000, 0.99) == pytest.approx(1e-3 * 0.985**20)


def test_a_tiny_run_scores_each_eval_point_and_stops_at_its_sample_limit(tmp_path: Path) -> None:
    data, out = tmp_path / "synth", tmp_path / "run"
    generate(data, train=24, val=8, seed=3, workers=1)
    flags = ["--data", str(data), "--out", str(out), "--input-size", "64", "--features", "16"]
    flags += ["--batch-size", "4", "--samples", "16", "--eval-every", "8", "--val-persons", "8"]
    flags += ["--workers", "0"]
    assert train_torch.main(flags) == 0
    report = json.loads((out / "curve.json").read_text())
    assert [point["samples"] for point in report["curve"]] == [8, 16]
    assert all(0.0 <= point["pck"] <= 1.0 and point["loss"] > 0 for point in report["curve"])
    assert report["settings"]["features"] == 16
    summary = import_torch_checkpoint(out / "model.pt", tmp_path / "imported.ckpt")
    assert summary["features"] == 16
