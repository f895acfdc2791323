"""How well detected boxes find annotated people: IoU, one-to-one matching, recall and false detections.

Boxes are (N, 4) xyxy in image pixels. A person counts as found when a detection overlaps its box with
IoU >= the threshold (0.5, as COCO's AP50 and the acceptance bar); each detection finds one person at
most, best score first. Regions marked to ignore (a person cut off by the frame edge, say) make a
detection that only overlaps them neither right nor wrong. `match_to_joints` pairs detections with persons
annotated by their joints (MPII), for evaluating poses on detected boxes.
"""

from dataclasses import dataclass

import numpy as np

MATCH_IOU = 0.5


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of every pair of (N, 4) and (M, 4) xyxy boxes."""
    a = np.asarray(first, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(second, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


@dataclass(frozen=True)
class BoxMatch:
    """Per person: found or not (P,); per detection: the person it found or -1 (K,), and whether it is a
    false detection (K,): matching no person and no ignored region."""

    found: np.ndarray
    person_of_detection: np.ndarray
    false: np.ndarray


def match_boxes(
    detections: np.ndarray,
    persons: np.ndarray,
    ignore: np.ndarray | None = None,
    iou_threshold: float = MATCH_IOU,
) -> BoxMatch:
    """Greedy one-to-one matching of detections (best score first) to persons by IoU."""
    detections = np.asarray(detections, dtype=np.float64).reshape(-1, 4)
    persons = np.asarray(persons, dtype=np.float64).reshape(-1, 4)
    overlaps = box_iou(detections, persons)
    found = np.zeros(len(persons), dtype=bool)
    person_of_detection = np.full(len(detections), -1, dtype=np.int64)
    for index in range(len(detections)):
        candidates = np.where(found, -1.0, overlaps[index])
        best = int(np.argmax(candidates)) if len(persons) else -1
        if best >= 0 and candidates[best] >= iou_threshold:
            found[best] = True
            person_of_detection[index] = best
    regions = np.zeros((0, 4)) if ignore is None else ignore
    ignored = (box_iou(detections, regions) >= iou_threshold).any(axis=1)
    return BoxMatch(found, person_of_detection, (person_of_detection < 0) & ~ignored)


@dataclass(frozen=True)
class MatchCount:
    """People counted and found, detections made and false, over one or more images (they add up)."""

    persons: int = 0
    found: int = 0
    detections: int = 0
    false: int = 0

    def __add__(self, other: "MatchCount") -> "MatchCount":
        return MatchCount(
            self.persons + other.persons,
            self.found + other.found,
            self.detections + other.detections,
            self.false + other.false,
        )

    @property
    def recall(self) -> float:
        return self.found / self.persons if self.persons else float("nan")

    @property
    def false_share(self) -> float:
        """The share of detections that match no one."""
        return self.false / self.detections if self.detections else 0.0


def count_matches(
    detections: np.ndarray,
    persons: np.ndarray,
    ignore: np.ndarray | None = None,
    min_height: float = 0.0,
    iou_threshold: float = MATCH_IOU,
) -> MatchCount:
    """One image's count; people lower than `min_height` pixels are ignored as `ignore` regions are."""
    persons = np.asarray(persons, dtype=np.float64).reshape(-1, 4)
    tall = persons[:, 3] - persons[:, 1] >= min_height
    regions = [persons[~tall]] + ([] if ignore is None else [np.asarray(ignore, np.float64).reshape(-1, 4)])
    match = match_boxes(detections, persons[tall], np.concatenate(regions), iou_threshold)
    return MatchCount(int(tall.sum()), int(match.found.sum()), len(match.false), int(match.false.sum()))


# A detection stands for an annotated person when it holds at least this share of the person's annotated
# joints and overlaps the box around them with at least this IoU. The joints' box is tighter than the person
# (feet, hair and hands reach past the joints) and spans joints hidden behind things, so the IoU floor is
# lower than MATCH_IOU; it keeps a box around a whole group from standing for one person of it.
MIN_JOINT_SHARE = 0.5
MIN_JOINTS_BOX_IOU = 0.3


def match_to_joints(
    detections: np.ndarray,
    joint_boxes: np.ndarray,
    joints: np.ndarray,
    annotated: np.ndarray,
    min_joint_share: float = MIN_JOINT_SHARE,
    min_iou: float = MIN_JOINTS_BOX_IOU,
) -> np.ndarray:
    """Per annotated person (P,), the index of the detection that stands for it, or -1: one-to-one, the
    pairs of highest IoU with the joints' box first, among the pairs that pass both floors.

    detections (K, 4) and joint_boxes (P, 4) xyxy; joints (P, J, 2) and annotated (P, J) bool."""
    detections = np.asarray(detections, dtype=np.float64).reshape(-1, 4)
    joints = np.asarray(joints, dtype=np.float64)
    annotated = np.asarray(annotated, dtype=bool)
    x, y = joints[None, ..., 0], joints[None, ..., 1]
    box = detections[:, None, None, :]
    inside = (x >= box[..., 0]) & (x <= box[..., 2]) & (y >= box[..., 1]) & (y <= box[..., 3])
    counted = annotated.sum(axis=1)
    share = (inside & annotated[None]).sum(axis=2) / np.maximum(counted, 1)[None]
    overlaps = box_iou(detections, joint_boxes)
    eligible = (share >= min_joint_share) & (overlaps >= min_iou) & (counted > 0)[None]
    detection_of_person = np.full(len(annotated), -1, dtype=np.int64)
    used = np.zeros(len(detections), dtype=bool)
    for flat in np.argsort(-np.where(eligible, overlaps, -1.0), axis=None, kind="stable"):
        detection, person = np.unravel_index(flat, overlaps.shape)
        if not eligible[detection, person]:
            break
        if not used[detection] and detection_of_person[person] < 0:
            used[detection] = True
            detection_of_person[person] = detection
    return detection_of_person
