"""How alike two poses or two person boxes are, for following persons from frame to frame.

Boxes are (x1, y1, x2, y2) in pixels; poses are (P, 16, 2) joints with (P, 16) scores. Every function is
vectorised over persons; a person too uncertain to have a box gets a row of NaN, which no comparison
matches (IoU is core.box_metrics.box_iou).

OKS (object keypoint similarity, COCO) needs a per-joint sigma, the spread of human annotators' clicks in
units of the person's size. MPII publishes none, so MPII_OKS_SIGMAS takes COCO's for the joints both data
sets share (ankles 0.089, knees 0.087, hips 0.107, wrists 0.062, elbows 0.072, shoulders 0.079) and, for
MPII's own joints: the pelvis the hips' 0.107 and the thorax the shoulders' 0.079 (each is annotated as
the middle of that pair, with the same ambiguity), the upper neck and the head top COCO's loosest head
point, the ear's 0.035 (they are head points, but not as sharply defined as the eyes and nose).
"""

from typing import Final

import numpy as np

from core.joints import NUM_JOINTS, Joint

_SIGMA_BY_JOINT: Final[dict[Joint, float]] = {
    Joint.R_ANKLE: 0.089,
    Joint.L_ANKLE: 0.089,
    Joint.R_KNEE: 0.087,
    Joint.L_KNEE: 0.087,
    Joint.R_HIP: 0.107,
    Joint.L_HIP: 0.107,
    Joint.PELVIS: 0.107,
    Joint.THORAX: 0.079,
    Joint.UPPER_NECK: 0.035,
    Joint.HEAD_TOP: 0.035,
    Joint.R_WRIST: 0.062,
    Joint.L_WRIST: 0.062,
    Joint.R_ELBOW: 0.072,
    Joint.L_ELBOW: 0.072,
    Joint.R_SHOULDER: 0.079,
    Joint.L_SHOULDER: 0.079,
}
MPII_OKS_SIGMAS: Final[np.ndarray] = np.array([_SIGMA_BY_JOINT[joint] for joint in Joint])
MPII_OKS_SIGMAS.setflags(write=False)


def scale_boxes(boxes: np.ndarray, factor: float) -> np.ndarray:
    """Boxes (N, 4) grown (factor > 1) or shrunk about their centres."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (factor / 2)
    return np.concatenate([centers - half, centers + half], axis=1)


def keypoint_boxes(
    keypoints: np.ndarray, scores: np.ndarray, min_score: float, min_joints: int = 2
) -> np.ndarray:
    """(P, 4) box around each person's joints scoring at least `min_score`; NaN where fewer than
    `min_joints` do (one joint has no extent)."""
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, NUM_JOINTS, 2)
    confident = np.asarray(scores, dtype=np.float64).reshape(-1, NUM_JOINTS) >= min_score
    mask = confident[..., None]
    low = np.where(mask, keypoints, np.inf).min(axis=1)
    high = np.where(mask, keypoints, -np.inf).max(axis=1)
    boxes = np.concatenate([low, high], axis=1)
    boxes[confident.sum(axis=1) < max(min_joints, 1)] = np.nan
    return boxes


def box_areas(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def oks_matrix(
    keypoints_a: np.ndarray,
    keypoints_b: np.ndarray,
    areas_a: np.ndarray,
    joints_a: np.ndarray | None = None,
    joints_b: np.ndarray | None = None,
    sigmas: np.ndarray = MPII_OKS_SIGMAS,
) -> np.ndarray:
    """(A, B) OKS of poses b against reference poses a of the given areas (pixels²).

    COCO's formula, mean over the joints that count of exp(-d² / (2 · area · (2σ)²)); a joint counts when
    it is marked in both `joints_a` and `joints_b` ((A, 16) and (B, 16) bool; all when None). A pair with
    no joint that counts, or a reference of no area, scores 0.
    """
    a = np.asarray(keypoints_a, dtype=np.float64).reshape(-1, 1, NUM_JOINTS, 2)
    b = np.asarray(keypoints_b, dtype=np.float64).reshape(1, -1, NUM_JOINTS, 2)
    count_a, count_b = a.shape[0], b.shape[1]
    mask_a = np.ones((count_a, NUM_JOINTS), bool) if joints_a is None else np.asarray(joints_a, bool)
    mask_b = np.ones((count_b, NUM_JOINTS), bool) if joints_b is None else np.asarray(joints_b, bool)
    counted = mask_a[:, None, :] & mask_b[None, :, :]
    squared = ((a - b) ** 2).sum(axis=-1)
    variances = 2.0 * np.asarray(areas_a, dtype=np.float64).reshape(-1, 1, 1) * (2.0 * sigmas) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.exp(-squared / variances)
    similarity = np.where(counted & np.isfinite(similarity), similarity, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        oks = similarity / counted.sum(axis=-1)
    return np.nan_to_num(oks, nan=0.0)


def greedy_distinct(similarity: np.ndarray, max_similarity: float) -> np.ndarray:
    """Indices of items kept when each item, in order, is dropped if it is at least `max_similarity`
    alike (similarity[i, k], an (N, N) matrix) to an item kept before it; the items come best first."""
    similarity = np.asarray(similarity, dtype=np.float64)
    kept: list[int] = []
    for index in range(similarity.shape[0]):
        if not kept or similarity[kept, index].max() < max_similarity:
            kept.append(index)
    return np.array(kept, dtype=np.int64)
