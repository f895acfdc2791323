"""training.generalisation scores a model per style family and on the MPII fixtures, and its holdout mode
trains without one family and reports the gap. Runs on the CPU build of torch and onnxruntime."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO_ROOT

from core.mpii import read_annotations
from training import generalisation
from training.generalisation import MPII_ROW, Row, gap_summary, onnx_predictor, score_all, validation_sets
from training.synth import generate
from training.synth.annotation import read_annotations_without, read_families
from training.synth.families import FAMILIES

SHIPPED = REPO_ROOT / "model_repo" / "hourglass" / "6"


def test_validation_sets_are_made_once_per_family(tmp_path: Path) -> None:
    folders = validation_sets(tmp_path, 2, 7, 1)
    assert list(folders) == list(FAMILIES)
    for family, folder in folders.items():
        path = folder / "annot" / "valid.h5"
        assert len(read_annotations(path)) == 2
        assert set(read_families(path)) == {family}
    stamps = {f: (f_dir / "annot" / "valid.h5").stat().st_mtime_ns for f, f_dir in folders.items()}
    validation_sets(tmp_path, 2, 7, 1)
    assert stamps == {f: (f_dir / "annot" / "valid.h5").stat().st_mtime_ns for f, f_dir in folders.items()}


def test_the_shipped_model_is_scored_per_family_and_on_the_mpii_persons(tmp_path: Path) -> None:
    predict, codec = onnx_predictor(SHIPPED)
    assert codec.input_size == 128
    rows = score_all(predict, codec, validation_sets(tmp_path, 2, 7, 1))
    assert [row.name for row in rows] == [*FAMILIES, MPII_ROW]
    assert [row.persons for row in rows] == [2] * len(FAMILIES) + [5]
    assert all(0.0 <= row.pck <= 1.0 and 0.0 <= row.pckh <= 100.0 for row in rows)


def test_gap_is_in_distribution_mean_less_held_out() -> None:
    rows = [
        Row(name, 10, pck, pck, pck, 100 * pck)
        for name, pck in zip(FAMILIES, (0.9, 0.8, 0.7, 0.4), strict=True)
    ]
    rows.append(Row(MPII_ROW, 5, 0.1, 0.1, 0.1, 10.0))
    summary = gap_summary(rows, FAMILIES[3])
    assert summary["held_out_pck"] == pytest.approx(0.4)
    assert summary["in_distribution_pck"] == pytest.approx(0.8)
    assert summary["gap"] == pytest.approx(0.4)


def test_holdout_trains_without_the_family_and_reports_the_gap(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="torch is optional (extra 'torch')")
    train, out, report = tmp_path / "train", tmp_path / "run", tmp_path / "holdout.json"
    generate(train, train=24, val=8, seed=3, workers=1)
    held_out = read_families(train / "annot" / "train.h5")[0]
    flags = ["holdout", "--hold-out", held_out, "--train-data", str(train), "--out", str(out)]
    flags += [
        "--data",
        str(tmp_path / "val"),
        "--persons",
        "2",
        "--generator-workers",
        "1",
        "--json",
        str(report),
    ]
    flags += ["--features", "16", "--input-size", "64"]
    flags += [
        "--batch-size",
        "4",
        "--samples",
        "8",
        "--eval-every",
        "8",
        "--val-persons",
        "4",
        "--workers",
        "0",
    ]
    assert generalisation.main(flags) == 0
    figures = json.loads(report.read_text())
    assert figures["held_out"] == held_out
    assert figures["gap"] == pytest.approx(figures["in_distribution_pck"] - figures["held_out_pck"])
    assert [row["name"] for row in figures["rows"]] == [*FAMILIES, MPII_ROW]
    settings = json.loads((out / "curve.json").read_text())["settings"]
    assert settings["exclude_family"] == [held_out]
    everyone = read_annotations(train / "annot" / "train.h5")
    families = read_families(train / "annot" / "train.h5")
    kept = read_annotations_without(train / "annot" / "train.h5", (held_out,))
    expected = [i for i, family in enumerate(families) if family != held_out]
    assert 0 < len(kept) == len(expected) < len(everyone)
    np.testing.assert_array_equal(kept.part, everyone.part[expected])


def test_a_folder_that_is_no_exported_version_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["score", "--model", str(tmp_path / "empty"), "--persons", "1", "--data", str(tmp_path / "val")]
    assert generalisation.main(argv) == 2
    assert "metadata.json is missing" in capsys.readouterr().err
