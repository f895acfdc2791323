"""The whole chain through the real commands: synth → run_train.sh → export → service → eval_mpii → score.

Each step is the command a user types, run as a subprocess; only sizes are tiny so that it fits in CI.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO_ROOT

from core.mpii import read_annotations, read_predictions

pytestmark = pytest.mark.slow

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
TOTAL_LINE = re.compile(r"^Val PCK @, 0\.5 , total : ([0-9.]+) , count: (\d+)$", re.MULTILINE)


def run(*command: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=REPO_ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def test_train_export_serve_evaluate(tmp_path: Path, launch_service) -> None:
    data, run_dir, repo, evaluation = (tmp_path / name for name in ("synth", "run", "repo", "eval"))
    python = sys.executable

    run(
        python,
        "-m",
        "training.synth",
        "--out",
        data,
        "--train",
        "16",
        "--val",
        "6",
        "--seed",
        "5",
        "--workers",
        "1",
    )
    run(
        "bash", "training/run_train.sh", data, run_dir,
        "--input-size", "64", "--features", "16", "--batch-size", "4", "--epochs", "1",
        "--workers", "1", "--eval-limit", "0", "--no-progress",
    )  # fmt: skip
    assert "epoch: 1 step: 4, loss is" in (run_dir / "train.log").read_text()

    run(
        python, "-m", "training.export", "--ckpt", run_dir / "final.ckpt", "--name", "e2e", "--version", "1",
        "--repo", repo, "--input-size", "64", "--data", "synthetic e2e set", "--epochs", "1",
    )  # fmt: skip
    metadata = json.loads((repo / "e2e" / "1" / "metadata.json").read_text())
    assert metadata["input"]["height"] == 64 and metadata["output"]["heatmap_height"] == 16

    with launch_service(repo) as service:
        run(
            python, "-m", "clients.eval_mpii", "--annot", data / "annot" / "valid.h5",
            "--images", data / "images", "--url", service.url, "--out", evaluation,
        )  # fmt: skip

    annotations = read_annotations(data / "annot" / "valid.h5")
    preds = read_predictions(evaluation / "preds.h5")
    assert preds.shape == (6, 16, 2) and np.isfinite(preds).all()
    report = (evaluation / "result.txt").read_text()
    reported_pck, reported_count = TOTAL_LINE.search(report).groups()
    assert int(reported_count) == int(annotations.annotated.sum())
    assert "| Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | Mean | Mean@0.1 |" in report

    scored = run(
        python, "-m", "clients.score", "--annot", data / "annot" / "valid.h5",
        "--pred", evaluation / "preds.h5", "--json", tmp_path / "score.json",
    )  # fmt: skip
    figures = json.loads((tmp_path / "score.json").read_text())
    assert round(figures["seed"]["all"]["total"]["pck"], 3) == float(reported_pck)
    assert TOTAL_LINE.search(scored.stdout).groups() == (reported_pck, reported_count)
