"""Top-down tracking: where to look for each person in the next frame, and which pose is whose.

Planning (`plan_boxes`): a person seen in the last applied frame is looked for in the box around their
confident joints, enlarged (as MMPose's and OpenPose's top-down video demos do), instead of running the
detector; the box grows a little more per frame of lag when it is used several frames ahead (the
orchestrator's pipelining). The detector runs on every `detect_every`-th frame and on any frame planned
from a state with a weak track (mean joint score below `weak_track_score`), a missing one, or none; its
boxes take precedence over the propagated boxes they overlap, being fresher.

Matching (`PoseTracker.update`): poses scoring below `min_pose_score` are not persons; of two poses as
alike as `duplicate_similarity` (one person found from two boxes) the better scoring stays; the rest are
assigned to tracks by an optimal assignment (the Hungarian method) on OKS against each track's last pose
(MPII sigmas: core.pose_similarity) or IoU of their boxes, pairs below `min_similarity` excluded. An
unassigned pose starts a track with the next integer ID; a track unassigned for more than
`max_missed_frames` frames in a row ends, and its ID is never used again. Each track smooths its joints
with its own One-Euro filter.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from core.box_metrics import box_iou
from core.joints import NUM_JOINTS
from core.pose_similarity import (
    box_areas,
    greedy_distinct,
    keypoint_boxes,
    oks_matrix,
    scale_boxes,
)
from runtime.video.smoothing import OneEuroFilter, OneEuroOptions

Similarity = Literal["oks", "iou"]


@dataclass(frozen=True)
class TrackingOptions:
    detect_every: int = 10  # N: the detector's regular frames (index % N == 0)
    max_missed_frames: int = 15  # M: a track not seen for more frames than this ends (0.5 s at 30 fps)
    weak_track_score: float = 0.35  # mean joint score below which a track asks for the detector
    min_pose_score: float = 0.15  # mean joint score below which a pose is not a person
    joint_score_threshold: float = 0.2  # a joint this confident counts for boxes and OKS
    min_box_joints: int = 3  # confident joints a pose needs for a box of its own
    box_enlarge: float = 1.2  # a propagated box around the joints, per side relative to their extent
    lag_enlarge_per_frame: float = 0.05  # more for each frame beyond the next that a box is used ahead
    similarity: Similarity = "oks"
    min_similarity: float = 0.3  # a pose and a track less alike are never matched
    duplicate_similarity: float = 0.7  # two poses this alike are one person
    detection_min_score: float = 0.5
    detection_overlap_iou: float = 0.4  # boxes overlapping this much look at one person
    max_persons: int = 20  # boxes estimated per frame at most

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.max_missed_frames < 0 or self.max_persons < 1:
            raise ValueError("detect_every and max_persons must be at least 1, max_missed_frames at least 0")
        if self.similarity not in ("oks", "iou"):
            raise ValueError(f"similarity is 'oks' or 'iou', not {self.similarity!r}")
        if self.box_enlarge <= 0 or self.lag_enlarge_per_frame < 0:
            raise ValueError("box_enlarge must be positive and lag_enlarge_per_frame not negative")


@dataclass(frozen=True)
class TrackedPose:
    track_id: int
    box: np.ndarray  # (4,) x1, y1, x2, y2: the region the pose was estimated in
    keypoints: np.ndarray  # (16, 2) as estimated
    smoothed: np.ndarray  # (16, 2) One-Euro filtered
    scores: np.ndarray  # (16,)


@dataclass(frozen=True)
class TrackUpdate:
    persons: tuple[TrackedPose, ...]  # by track ID
    started: tuple[int, ...]  # IDs first seen in this frame
    ended: tuple[int, ...]  # IDs that ended with this frame (missed for more than max_missed_frames)


@dataclass(frozen=True)
class TrackState:
    """What planning a later frame needs from the tracker, as of the last frame it applied."""

    frame_index: int | None  # None before the first frame
    boxes: np.ndarray  # (T, 4) around the confident joints of the tracks seen in that frame
    weak: bool  # a track seen in that frame scored below weak_track_score, or had too few joints for a box
    missing: bool  # a track was not seen in that frame and has not ended

    @property
    def empty(self) -> bool:
        return len(self.boxes) == 0 and not self.weak and not self.missing


@dataclass
class _Track:
    track_id: int
    keypoints: np.ndarray
    scores: np.ndarray
    extent: np.ndarray  # the box around its confident joints, or its estimation box when too few
    smoother: OneEuroFilter
    missed: int = 0


@dataclass
class _Poses:
    """Poses of one frame, in parallel arrays."""

    boxes: np.ndarray  # (K, 4) estimation regions
    keypoints: np.ndarray  # (K, 16, 2)
    scores: np.ndarray  # (K, 16)
    tight: np.ndarray = field(init=False)  # (K, 4) around the confident joints; NaN rows when too few
    extent: np.ndarray = field(init=False)  # tight, else the estimation region


def _check_poses(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> _Poses:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    count = len(boxes)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if keypoints.shape != (count, NUM_JOINTS, 2) or scores.shape != (count, NUM_JOINTS):
        raise ValueError(
            f"{count} boxes need keypoints {(count, NUM_JOINTS, 2)} and scores {(count, NUM_JOINTS)}, "
            f"not {keypoints.shape} and {scores.shape}"
        )
    return _Poses(boxes, keypoints, scores)


class PoseTracker:
    """Track state across frames; `update` once per frame, in frame order."""

    def __init__(
        self, options: TrackingOptions | None = None, smoothing: OneEuroOptions | None = None
    ) -> None:
        self.options = options or TrackingOptions()
        self.smoothing = smoothing or OneEuroOptions()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame_index: int | None = None

    def _describe(self, poses: _Poses) -> _Poses:
        poses.tight = keypoint_boxes(
            poses.keypoints, poses.scores, self.options.joint_score_threshold, self.options.min_box_joints
        )
        poses.extent = np.where(np.isnan(poses.tight), poses.boxes, poses.tight)
        return poses

    def _similarity(
        self, keypoints_a: np.ndarray, scores_a: np.ndarray, extent_a: np.ndarray, poses: _Poses
    ) -> np.ndarray:
        """(A, K): references a against the frame's poses."""
        if self.options.similarity == "iou":
            return box_iou(extent_a, poses.extent)
        threshold = self.options.joint_score_threshold
        return oks_matrix(
            keypoints_a,
            poses.keypoints,
            box_areas(extent_a),
            scores_a >= threshold,
            poses.scores >= threshold,
        )

    def _distinct_persons(self, poses: _Poses) -> _Poses:
        mean = poses.scores.mean(axis=1)
        order = np.argsort(-mean, kind="stable")
        order = order[mean[order] >= self.options.min_pose_score]
        ranked = self._describe(_Poses(poses.boxes[order], poses.keypoints[order], poses.scores[order]))
        alike = self._similarity(ranked.keypoints, ranked.scores, ranked.extent, ranked)
        keep = greedy_distinct(alike, self.options.duplicate_similarity)
        return self._describe(_Poses(ranked.boxes[keep], ranked.keypoints[keep], ranked.scores[keep]))

    def update(
        self, frame_index: int, time_s: float, boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray
    ) -> TrackUpdate:
        """Apply one frame's poses: `boxes` (K, 4) the regions estimated, `keypoints` (K, 16, 2), `scores`
        (K, 16). Frame indices must increase; a track's missed frames are counted in frames applied."""
        if self._frame_index is not None and frame_index <= self._frame_index:
            raise ValueError(f"frame {frame_index} after frame {self._frame_index}: frames go in order")
        self._frame_index = frame_index
        poses = self._distinct_persons(_check_poses(boxes, keypoints, scores))
        pairs = self._assign(poses)
        assigned = {pose: track for track, pose in pairs}
        persons, started = [], []
        for pose in range(len(poses.boxes)):
            if pose in assigned:
                track = assigned[pose]
            else:
                track = _Track(self._next_id, poses.keypoints[pose], poses.scores[pose], poses.extent[pose],
                               OneEuroFilter(self.smoothing))  # fmt: skip
                self._next_id += 1
                self._tracks.append(track)
                started.append(track.track_id)
            persons.append(self._observe(track, poses, pose, time_s))
        seen = {track.track_id for track, _ in pairs} | set(started)
        ended = []
        for track in self._tracks:
            if track.track_id not in seen:
                track.missed += 1
                if track.missed > self.options.max_missed_frames:
                    ended.append(track.track_id)
        self._tracks = [track for track in self._tracks if track.track_id not in ended]
        return TrackUpdate(
            persons=tuple(sorted(persons, key=lambda person: person.track_id)),
            started=tuple(started),
            ended=tuple(ended),
        )

    def _assign(self, poses: _Poses) -> list[tuple[_Track, int]]:
        if not self._tracks or len(poses.boxes) == 0:
            return []
        similarity = self._similarity(
            np.stack([track.keypoints for track in self._tracks]),
            np.stack([track.scores for track in self._tracks]),
            np.stack([track.extent for track in self._tracks]),
            poses,
        )
        allowed = similarity >= self.options.min_similarity
        rows, columns = linear_sum_assignment(np.where(allowed, similarity, 0.0), maximize=True)
        return [
            (self._tracks[row], int(column))
            for row, column in zip(rows, columns, strict=True)
            if allowed[row, column]
        ]

    def _observe(self, track: _Track, poses: _Poses, pose: int, time_s: float) -> TrackedPose:
        track.keypoints, track.scores = poses.keypoints[pose], poses.scores[pose]
        track.extent, track.missed = poses.extent[pose], 0
        extent = track.extent
        size = max(float(extent[2] - extent[0]), float(extent[3] - extent[1]), 1.0)
        return TrackedPose(
            track_id=track.track_id,
            box=poses.boxes[pose],
            keypoints=track.keypoints,
            smoothed=track.smoother(track.keypoints, time_s, size),
            scores=track.scores,
        )

    @property
    def state(self) -> TrackState:
        options = self.options
        seen = [track for track in self._tracks if track.missed == 0]
        if seen:
            tight = keypoint_boxes(
                np.stack([track.keypoints for track in seen]),
                np.stack([track.scores for track in seen]),
                options.joint_score_threshold,
                options.min_box_joints,
            )
            weak = bool(
                np.isnan(tight).any() or min(track.scores.mean() for track in seen) < options.weak_track_score
            )
            boxes = tight[~np.isnan(tight).any(axis=1)]
        else:
            weak, boxes = False, np.zeros((0, 4))
        return TrackState(
            frame_index=self._frame_index,
            boxes=boxes,
            weak=weak,
            missing=any(track.missed > 0 for track in self._tracks),
        )

    @property
    def track_ids(self) -> tuple[int, ...]:
        """The tracks that have not ended, seen in the last frame or not."""
        return tuple(track.track_id for track in self._tracks)


def needs_detection(state: TrackState, frame_index: int, options: TrackingOptions) -> bool:
    """Whether the detector runs on a frame planned from `state`."""
    return frame_index % options.detect_every == 0 or state.empty or state.weak or state.missing


def confident_detections(boxes: np.ndarray, scores: np.ndarray, options: TrackingOptions) -> np.ndarray:
    """The detector's boxes (K, 4) scoring at least detection_min_score, best first; empty ones dropped."""
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (len(boxes),):
        raise ValueError(
            f"a detector returns boxes (K, 4) and scores (K,), not {boxes.shape} and {scores.shape}"
        )
    valid = (
        (scores >= options.detection_min_score) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    )
    order = np.argsort(-scores, kind="stable")
    return boxes[order[valid[order]]]


def plan_boxes(
    state: TrackState,
    frame_index: int,
    detections: Sequence[np.ndarray],
    image_size: tuple[int, int],
    options: TrackingOptions,
) -> np.ndarray:
    """The regions (K, 4) to estimate poses in on frame `frame_index` of (height, width) `image_size`.

    `detections` are the confident boxes of detector runs not yet applied to the tracker, freshest first
    (this frame's first when the detector ran on it). They come before the tracks' propagated boxes, and
    a box overlapping an earlier one by detection_overlap_iou is dropped; boxes are clipped to the image.
    """
    lag = 1 if state.frame_index is None else frame_index - state.frame_index
    enlarge = options.box_enlarge + options.lag_enlarge_per_frame * max(lag - 1, 0)
    candidates = np.concatenate([*detections, scale_boxes(state.boxes, enlarge)]).reshape(-1, 4)
    height, width = image_size
    candidates = np.clip(candidates, 0, [width, height, width, height])
    candidates = candidates[(candidates[:, 2] > candidates[:, 0]) & (candidates[:, 3] > candidates[:, 1])]
    keep = greedy_distinct(box_iou(candidates, candidates), options.detection_overlap_iou)
    return candidates[keep[: options.max_persons]]
