"""PCK metrics: the seed's report (what "88.2%" means) and the official MPII PCKh table.

Both are defined in docs/reference.md#metrics.

Both take predictions and ground truth in the same pixel frame; `score_predictions` applies each metric's
own convention for the 0-/1-based offset, so callers only say which origin their predictions use.
"""

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from core.joints import EVAL_GROUPS, NUM_JOINTS
from core.mpii import MpiiAnnotations

SEED_BLOCKS: Final[tuple[str, ...]] = ("all", "visible", "not visible")
SEED_KEYS: Final[tuple[str, ...]] = ("total", *EVAL_GROUPS)
OFFICIAL_ROWS: Final[dict[str, tuple[int, ...]]] = {
    "Head": (9,),
    "Shoulder": (12, 13),
    "Elbow": (11, 14),
    "Wrist": (10, 15),
    "Hip": (2, 3),
    "Knee": (1, 4),
    "Ankle": (0, 5),
}
# Pelvis and thorax are left out of the official mean.
OFFICIAL_JOINTS: Final[tuple[int, ...]] = tuple(j for j in range(NUM_JOINTS) if j not in (6, 7))
OFFICIAL_COLUMNS: Final[tuple[str, ...]] = (*OFFICIAL_ROWS, "Mean", "Mean@0.1")


class PredictionError(ValueError):
    """Predictions that cannot be scored against the annotations."""


def validate_predictions(preds: np.ndarray, expected_count: int) -> np.ndarray:
    preds = np.asarray(preds, dtype=np.float64)
    if preds.ndim != 3 or preds.shape[1:] != (NUM_JOINTS, 2):
        raise PredictionError(f"predictions have shape {preds.shape}, expected (N, {NUM_JOINTS}, 2)")
    if len(preds) != expected_count:
        raise PredictionError(
            f"there are {len(preds)} predictions but {expected_count} annotation entries: one row per entry"
        )
    bad_rows = np.flatnonzero(~np.isfinite(preds).all(axis=(1, 2)))
    if len(bad_rows):
        raise PredictionError(
            f"{len(bad_rows)} prediction rows hold NaN or inf (first: entry {int(bad_rows[0])})"
        )
    return preds


def normalized_errors(preds: np.ndarray, ground_truth: np.ndarray, normalizer: np.ndarray) -> np.ndarray:
    """(N, J) distance between prediction and ground truth divided by each entry's normaliser."""
    return np.linalg.norm(preds - ground_truth, axis=-1) / np.asarray(normalizer, dtype=np.float64)[:, None]


@dataclass(frozen=True)
class SeedPck:
    """Correct and counted joints per block ('all', 'visible', 'not visible') and key ('total', groups)."""

    correct: dict[str, dict[str, int]]
    count: dict[str, dict[str, int]]
    threshold: float

    def ratio(self, block: str, key: str) -> float:
        return self.correct[block][key] / max(self.count[block][key], 1)


def seed_pck(
    preds: np.ndarray,
    part: np.ndarray,
    visible: np.ndarray,
    normalize: np.ndarray,
    threshold: float = 0.5,
) -> SeedPck:
    """The reference's mpii_eval: joints with x != 0 count, correct when error < threshold (strict)."""
    counted = part[..., 0] != 0
    hit = counted & (normalized_errors(preds, part, normalize) < threshold)
    block_masks = {
        "all": counted,
        "visible": counted & (visible != 0),
        "not visible": counted & (visible == 0),
    }
    correct: dict[str, dict[str, int]] = {}
    count: dict[str, dict[str, int]] = {}
    for block, mask in block_masks.items():
        joints_of = {"total": tuple(range(NUM_JOINTS)), **EVAL_GROUPS}
        count[block] = {key: int(mask[:, list(joints)].sum()) for key, joints in joints_of.items()}
        correct[block] = {key: int((hit & mask)[:, list(joints)].sum()) for key, joints in joints_of.items()}
    return SeedPck(correct=correct, count=count, threshold=threshold)


def format_seed_report(validation: SeedPck, training: SeedPck | None = None) -> str:
    """The seed's printed report, line for line: `Val PCK @, 0.5 , total : 0.882 , count: 44239`."""
    lines: list[str] = []
    for block in SEED_BLOCKS:
        lines.append(f"{block} :")
        for key in SEED_KEYS:
            for label, result in (("Val", validation), ("Tra", training)):
                if result is not None:
                    lines.append(
                        f"{label} PCK @, {result.threshold} , {key} : {round(result.ratio(block, key), 3)} , "
                        f"count: {result.count[block][key]}"
                    )
        lines.append("")
    return "\n".join(lines)


def official_pckh(
    preds: np.ndarray,
    ground_truth: np.ndarray,
    annotated: np.ndarray,
    normalizer: np.ndarray,
) -> dict[str, float]:
    """Official MPII PCKh in percent (Tompson/HRNet evaluation): error <= threshold counts.

    `normalizer` is 0.6 x the head-box diagonal. Rows average left and right; `Mean` weights the 14 joints
    by their counts. Mean@0.1 uses the threshold 0.1 itself (HRNet's code reads its 0.11 row instead).
    A row averages only the joints that have annotations; with none it is NaN.
    """
    errors = normalized_errors(preds, ground_truth, normalizer)
    counts = annotated.sum(axis=0)
    joints = list(OFFICIAL_JOINTS)

    def per_joint(threshold: float) -> np.ndarray:
        correct = (annotated & (errors <= threshold)).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, 100.0 * correct / np.maximum(counts, 1), np.nan)

    def mean(pckh: np.ndarray) -> float:
        weights = counts[joints] / max(counts[joints].sum(), 1)
        return float(np.sum(np.nan_to_num(pckh[joints]) * weights))

    at_half = per_joint(0.5)
    table = {row: _mean_of_present(at_half[list(members)]) for row, members in OFFICIAL_ROWS.items()}
    table["Mean"] = mean(at_half)
    table["Mean@0.1"] = mean(per_joint(0.1))
    return table


def _mean_of_present(values: np.ndarray) -> float:
    present = values[~np.isnan(values)]
    return float(present.mean()) if len(present) else math.nan


def format_official_table(table: dict[str, float]) -> str:
    header = "| " + " | ".join(OFFICIAL_COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in OFFICIAL_COLUMNS) + "|"
    values = "| " + " | ".join(f"{table[column]:.2f}" for column in OFFICIAL_COLUMNS) + " |"
    return "\n".join(["Official MPII PCKh@0.5 (14 joints, percent):", header, rule, values, ""])


@dataclass(frozen=True)
class ScoreReport:
    seed: SeedPck
    official: dict[str, float]

    def text(self) -> str:
        return format_seed_report(self.seed) + "\n" + format_official_table(self.official)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: seed ratios as unrounded fractions, official values in percent (NaN → None)."""
        seed = {
            block: {
                key: {"pck": self.seed.ratio(block, key), "count": self.seed.count[block][key]}
                for key in SEED_KEYS
            }
            for block in SEED_BLOCKS
        }
        official = {key: (None if math.isnan(value) else value) for key, value in self.official.items()}
        return {"seed": seed, "official": official}


def score_predictions(annotations: MpiiAnnotations, preds: np.ndarray, pred_origin: int = 0) -> ScoreReport:
    """Score (N, 16, 2) predictions, one row per annotation entry, against MPII annotations.

    `pred_origin` 0 means 0-based pixel coordinates (what the service returns): the official table adds
    1.0 as the official evaluation does. The seed metric compares without shifting, as the reference does.
    """
    if pred_origin not in (0, 1):
        raise PredictionError(f"pred_origin must be 0 or 1, not {pred_origin}")
    preds = validate_predictions(preds, len(annotations))
    seed = seed_pck(preds, annotations.part, annotations.visible, annotations.normalize)
    official_preds = preds + (1.0 if pred_origin == 0 else 0.0)
    official = official_pckh(official_preds, annotations.part, annotations.annotated, annotations.normalize)
    return ScoreReport(seed=seed, official=official)
