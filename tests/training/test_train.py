"""A tiny real training run: seed-format loss lines, the loss going down, checkpoints, resume, fine-tuning
from weights, eval."""

import re
from pathlib import Path

import numpy as np
import pytest

from core.mpii import read_predictions
from training.checkpoints import read_checkpoint
from training.config import parse_config
from training.eval import main as eval_main
from training.synth import generate
from training.train import FINAL_CHECKPOINT, LOG_FILE, train

pytestmark = pytest.mark.slow

LOSS_LINE = re.compile(r"^epoch: (\d+) step: (\d+), loss is (\d+\.\d+(?:e-?\d+)?)$")
TIME_LINE = re.compile(r"^epoch time: \d+\.\d{3} ms, per step time: \d+\.\d{3} ms$")
TINY = ["--input-size", "64", "--features", "16", "--batch-size", "4", "--limit", "24", "--workers", "1"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, train=24, val=8, seed=11, workers=1)
    return out


@pytest.fixture(scope="module")
def run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    flags = ["--data", str(data_dir), "--out", str(out), "--epochs", "2", "--save-every", "1", "--keep", "1"]
    return train(parse_config([*flags, *TINY, "--log-every", "1", "--eval-limit", "8", "--lr", "2e-3"]))


def loss_lines(log: Path) -> list[tuple[int, int, float]]:
    return [
        (int(m.group(1)), int(m.group(2)), float(m.group(3)))
        for m in map(LOSS_LINE.match, log.read_text().splitlines())
        if m
    ]


def test_log_has_seed_format_lines_and_loss_decreases(run: Path) -> None:
    log = run / LOG_FILE
    losses = loss_lines(log)
    assert [(epoch, step) for epoch, step, _ in losses] == [(e, s) for e in (1, 2) for s in range(1, 7)]
    assert sum(bool(TIME_LINE.match(line)) for line in log.read_text().splitlines()) == 2
    values = np.array([loss for *_, loss in losses])
    assert values[-3:].mean() < 0.9 * values[:3].mean()


def test_checkpoints_keep_only_the_newest(run: Path) -> None:
    kept = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert kept == ["hourglass-2_6.ckpt"]
    assert (run / FINAL_CHECKPOINT).is_file()


def test_held_out_eval_reports_through_core_metrics(run: Path) -> None:
    report = (run / "eval" / "result.txt").read_text()
    assert re.search(r"Val PCK @, 0\.5 , total : [0-9.]+ , count: \d+", report)
    assert "Official MPII PCKh@0.5" in report
    assert read_predictions(run / "eval" / "preds.h5").shape == (8, 16, 2)


def test_resume_continues_from_the_checkpoint_epoch(run: Path, data_dir: Path) -> None:
    checkpoint = run / "checkpoints" / "hourglass-2_6.ckpt"
    flags = ["--data", str(data_dir), "--out", str(run), "--epochs", "3", "--eval-limit", "0"]
    train(parse_config([*flags, *TINY, "--resume", str(checkpoint), "--save-every", "1", "--keep", "1"]))
    lines = run.joinpath(LOG_FILE).read_text().splitlines()
    header = [line for line in lines if line.startswith("#")][-1]
    assert "lr 0.001 x 0.985^epoch, resumed at epoch 2" in header
    assert [epoch for epoch, *_ in loss_lines(run / LOG_FILE)][-1] == 3
    # Same names as before the resume (not MindSpore's hourglass_1-...), and --keep prunes across both runs.
    assert sorted(p.name for p in (run / "checkpoints").glob("*.ckpt")) == ["hourglass-3_6.ckpt"]


def test_init_from_starts_a_new_run_from_the_weights(run: Path, data_dir: Path, tmp_path: Path) -> None:
    source = run / FINAL_CHECKPOINT
    flags = ["--data", str(data_dir), "--out", str(tmp_path), "--epochs", "1", "--eval-limit", "0"]
    # A vanishing learning rate: the new run's weights can only be the source's if it really loaded them.
    train(parse_config([*flags, *TINY, "--init-from", str(source), "--lr", "1e-12", "--save-every", "1"]))
    header = [line for line in tmp_path.joinpath(LOG_FILE).read_text().splitlines() if line.startswith("#")]
    assert header[-1].endswith(f"resumed at epoch 0, initialised from {source}")
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt")) == ["hourglass-1_6.ckpt"]
    before, after = read_checkpoint(source), read_checkpoint(tmp_path / FINAL_CHECKPOINT)
    weights = [name for name in before if name.endswith(".weight")]
    assert len(weights) > 10
    for name in weights:
        np.testing.assert_allclose(after[name], before[name], atol=1e-6, err_msg=name)


def test_eval_cli_prints_the_report_and_writes_results(
    run: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, images = str(run / FINAL_CHECKPOINT), str(data_dir / "images")
    eval_main(
        [
            "--ckpt", checkpoint, "--annot", str(data_dir), "--images", images, "--input-size", "64",
            "--limit", "5", "--out", str(tmp_path), "--batch-size", "4",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "Val PCK @, 0.5 , total" in printed and "| Head |" in printed
    assert (tmp_path / "result.txt").read_text() in printed
    preds = read_predictions(tmp_path / "preds.h5")
    assert preds.shape == (5, 16, 2) and np.isfinite(preds).all()
