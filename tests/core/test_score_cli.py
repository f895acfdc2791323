"""The scorer as users run it: `python -m clients.score` in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import MPII_ANNOTATIONS, REPO_ROOT

from core.mpii import read_annotations, write_predictions


def run_score(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clients.score", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def annot_path() -> Path:
    return MPII_ANNOTATIONS


def test_scores_and_writes_json(annot_path: Path, tmp_path: Path) -> None:
    annotations = read_annotations(annot_path)
    rng = np.random.default_rng(1)
    preds = annotations.part - 1.0 + rng.normal(0, 6, annotations.part.shape)
    write_predictions(tmp_path / "preds.h5", preds)
    result = run_score(
        "--annot", str(annot_path), "--pred", str(tmp_path / "preds.h5"), "--json", str(tmp_path / "o.json")
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads((tmp_path / "o.json").read_text())
    total = figures["seed"]["all"]["total"]
    assert total["count"] == 44239
    assert f"Val PCK @, 0.5 , total : {round(total['pck'], 3)} , count: 44239" in result.stdout
    assert 0.5 < total["pck"] < 1.0
    assert f"{figures['official']['Mean']:.2f}" in result.stdout
    for block in ("all :", "visible :", "not visible :"):
        assert block in result.stdout.splitlines()


def test_pred_origin_one_is_accepted(annot_path: Path, tmp_path: Path) -> None:
    write_predictions(tmp_path / "preds.h5", read_annotations(annot_path).part)
    result = run_score("--annot", str(annot_path), "--pred", str(tmp_path / "preds.h5"), "--pred-origin", "1")
    assert result.returncode == 0
    assert (
        "| 100.00 | 100.00 | 100.00 | 100.00 | 100.00 | 100.00 | 100.00 | 100.00 | 100.00 |" in result.stdout
    )


@pytest.mark.parametrize(
    ("rows", "fill", "message"),
    [(2958, np.inf, "NaN or inf"), (2957, 0.0, "2957 predictions but 2958")],
)
def test_bad_predictions_exit_2(
    annot_path: Path, tmp_path: Path, rows: int, fill: float, message: str
) -> None:
    write_predictions(tmp_path / "preds.h5", np.full((rows, 16, 2), fill))
    result = run_score("--annot", str(annot_path), "--pred", str(tmp_path / "preds.h5"))
    assert result.returncode == 2
    assert message in result.stderr


def test_wrong_shape_and_missing_file_exit_2(annot_path: Path, tmp_path: Path) -> None:
    write_predictions(tmp_path / "preds.h5", np.zeros((2958, 16, 3)))
    result = run_score("--annot", str(annot_path), "--pred", str(tmp_path / "preds.h5"))
    assert result.returncode == 2 and "shape" in result.stderr
    result = run_score("--annot", str(tmp_path / "none.h5"), "--pred", str(tmp_path / "preds.h5"))
    assert result.returncode == 2 and "does not exist" in result.stderr
