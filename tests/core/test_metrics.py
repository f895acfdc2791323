import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import MPII_ANNOTATIONS

from core.metrics import (
    PredictionError,
    format_official_table,
    format_seed_report,
    normalized_errors,
    official_pckh,
    score_predictions,
    seed_pck,
)
from core.mpii import read_annotations


@pytest.fixture(scope="module")
def golden_pckh(fixtures_dir: Path) -> dict:
    data = json.loads((fixtures_dir / "golden" / "pckh_first5.json").read_text())
    gt = np.array([person["joints"] for person in data["gt"]])
    headboxes = np.array([person["headbox"] for person in data["gt"]])
    return {
        "preds": np.array(data["preds"]),
        "gt": gt,
        "annotated": gt[..., 0] != -1,
        "normalizer": 0.6 * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=1),
        "expected": data,
    }


def test_official_pckh_reproduces_the_golden_mean(golden_pckh: dict) -> None:
    table = official_pckh(
        golden_pckh["preds"], golden_pckh["gt"], golden_pckh["annotated"], golden_pckh["normalizer"]
    )
    expected = golden_pckh["expected"]
    assert table["Mean"] == pytest.approx(expected["expected_mean_pckh_14joints"], abs=1e-4)
    correct = np.array(expected["correct_per_joint"])
    count = np.array(expected["count_per_joint"])
    assert table["Ankle"] == pytest.approx(100 * (correct[0] / count[0] + correct[5] / count[5]) / 2)
    assert table["Elbow"] == pytest.approx(100 * (correct[11] / count[11] + correct[14] / count[14]) / 2)


def test_normalized_errors_match_the_golden_ones(golden_pckh: dict) -> None:
    errors = normalized_errors(golden_pckh["preds"], golden_pckh["gt"], golden_pckh["normalizer"])
    expected = np.array(golden_pckh["expected"]["normalized_error"])
    annotated = golden_pckh["annotated"]
    assert np.abs(errors[annotated] - expected[annotated]).max() < 1e-5


def _one_joint_case(offset: float) -> tuple[np.ndarray, ...]:
    """One person, only r_ankle annotated at (100, 100), normaliser 10, prediction `offset` px right."""
    part = np.zeros((1, 16, 2))
    part[0, 0] = [100.0, 100.0]
    preds = part.copy()
    preds[0, 0, 0] += offset
    return preds, part, np.ones((1, 16)), np.array([10.0])


def test_seed_metric_is_strict_at_the_boundary() -> None:
    assert seed_pck(*_one_joint_case(4.999)).correct["all"]["total"] == 1
    exactly_half = seed_pck(*_one_joint_case(5.0))
    assert exactly_half.correct["all"]["total"] == 0
    assert exactly_half.count["all"]["total"] == 1
    assert exactly_half.count["all"]["ankle"] == 1


def test_official_metric_includes_the_boundary() -> None:
    preds, part, _, normalizer = _one_joint_case(5.0)
    table = official_pckh(preds, part, part[..., 0] != 0, normalizer)
    assert table["Ankle"] == pytest.approx(100.0)  # r_ankle 100%, l_ankle counted 0 → average of one
    assert table["Mean"] == pytest.approx(100.0)
    assert math.isnan(table["Head"])
    preds, part, _, normalizer = _one_joint_case(5.001)
    assert official_pckh(preds, part, part[..., 0] != 0, normalizer)["Mean"] == 0.0


def test_seed_report_lines_have_the_reference_format() -> None:
    preds, part, visible, normalize = _one_joint_case(1.0)
    visible[0, 0] = 0
    text = format_seed_report(seed_pck(preds, part, visible, normalize))
    lines = text.splitlines()
    assert lines[0] == "all :"
    assert lines[1] == "Val PCK @, 0.5 , total : 1.0 , count: 1"
    assert "Val PCK @, 0.5 , ankle : 1.0 , count: 1" in lines
    assert "Val PCK @, 0.5 , knee : 0.0 , count: 0" in lines
    visible_block = lines[lines.index("visible :") + 1]
    assert visible_block == "Val PCK @, 0.5 , total : 0.0 , count: 0"
    assert lines[lines.index("not visible :") + 1] == "Val PCK @, 0.5 , total : 1.0 , count: 1"


def test_seed_report_interleaves_training_lines() -> None:
    result = seed_pck(*_one_joint_case(1.0))
    lines = format_seed_report(result, training=result).splitlines()
    assert lines[1].startswith("Val PCK @, 0.5 , total")
    assert lines[2].startswith("Tra PCK @, 0.5 , total")


def test_score_predictions_on_the_real_annotations() -> None:
    annotations = read_annotations(MPII_ANNOTATIONS)
    perfect_zero_based = annotations.part - 1.0
    report = score_predictions(annotations, perfect_zero_based, pred_origin=0)
    assert report.official["Mean"] == pytest.approx(100.0)
    assert report.seed.count["all"]["total"] == 44239
    # The seed metric does not shift: a 1-pixel offset is far below half a head.
    assert report.seed.ratio("all", "total") == 1.0
    figures = report.to_dict()
    assert figures["seed"]["all"]["total"] == {"pck": 1.0, "count": 44239}
    assert set(figures["official"]) == {
        "Head",
        "Shoulder",
        "Elbow",
        "Wrist",
        "Hip",
        "Knee",
        "Ankle",
        "Mean",
        "Mean@0.1",
    }
    assert "| Head | Shoulder |" in format_official_table(report.official)


def test_pred_origin_changes_only_the_official_table() -> None:
    annotations = read_annotations(MPII_ANNOTATIONS).subset(200)
    # Predictions 3 px off along x: 0-based preds get +1 officially, i.e. 4 px off.
    preds = annotations.part + np.array([3.0, 0.0])
    zero = score_predictions(annotations, preds, pred_origin=0)
    one = score_predictions(annotations, preds, pred_origin=1)
    assert zero.seed == one.seed
    assert zero.official["Mean@0.1"] < one.official["Mean@0.1"]


@pytest.mark.parametrize(
    ("preds", "message"),
    [
        (np.zeros((5, 15, 2)), "shape"),
        (np.zeros((4, 16, 2)), "4 predictions but 5"),
        (np.full((5, 16, 2), np.nan), "NaN or inf"),
    ],
)
def test_bad_predictions_are_refused(preds: np.ndarray, message: str) -> None:
    annotations = read_annotations(MPII_ANNOTATIONS).subset(5)
    with pytest.raises(PredictionError, match=message):
        score_predictions(annotations, preds)
