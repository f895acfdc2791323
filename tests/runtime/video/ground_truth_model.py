"""Stand-ins for the pose model and the person detector that answer from a clip's ground truth.

They are for testing tracking, smoothing and the orchestrator, not doubles of hardware: `estimate` gives
the true joints plus Gaussian noise for the person a region looks at, as a model that is always right up
to its noise would, and `detect` gives the true persons' boxes. Like a top-down model, `estimate` finds
only the joints inside the square crop a region becomes (core.geometry's padding), of the person the crop is
centred on; a region without enough of a person's joints gives a pose of low scores, as background does.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
from video_clips import Clip

from core.geometry import box_to_center_scale, center_scale_to_box
from core.joints import NUM_JOINTS

MIN_JOINTS_FOUND = 4  # fewer true joints in a crop: no person there
DETECTION_SCORE = 0.9
BACKGROUND_SCORE = 0.05


@dataclass
class GroundTruthModel:
    clip: Clip
    noise_px: float = 2.0
    score: float = 0.9
    seed: int = 0
    delay_s: float | tuple[float, float] = 0.0  # per estimate call: fixed, or uniform in a range
    frame_delays_s: dict[int, float] = field(default_factory=dict)  # these frames' calls take this long
    timing_seed: int = 0
    weak_frames: frozenset[int] = frozenset()  # frames whose persons score `weak_score`
    weak_score: float = 0.25
    estimate_calls: list[tuple[int, int]] = field(default_factory=list)  # (frame, regions)
    detect_calls: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    cancelled: int = 0
    _index_of: dict[int, int] = field(default_factory=dict)
    _timing: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self._timing = np.random.default_rng(self.timing_seed)

    async def frames(self) -> AsyncIterator[tuple[int, float, np.ndarray]]:
        """The clip's own frames (no codec) as the orchestrator's source."""
        for index, image in enumerate(self.clip.frames):
            yield self.register(index, float(self.clip.times[index]), image)

    def register(self, index: int, time_s: float, image: np.ndarray) -> tuple[int, float, np.ndarray]:
        """Remember which frame an image is (it is looked up by identity), for frames from elsewhere."""
        self._index_of[id(image)] = index
        return index, time_s, image

    async def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = self._index_of[id(image)]
        self.detect_calls.append(index)
        joints, visible = self.clip.joints[index], self.clip.visible[index]
        boxes = [
            np.concatenate([joints[p][visible[p]].min(axis=0), joints[p][visible[p]].max(axis=0)])
            for p in range(len(joints))
            if visible[p].sum() >= MIN_JOINTS_FOUND
        ]
        return np.array(boxes).reshape(-1, 4), np.full(len(boxes), DETECTION_SCORE)

    async def estimate(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = self._index_of[id(image)]
        self.estimate_calls.append((index, len(boxes)))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if index in self.frame_delays_s:
                await asyncio.sleep(self.frame_delays_s[index])
            elif isinstance(self.delay_s, float):
                await asyncio.sleep(self.delay_s)
            else:
                await asyncio.sleep(float(self._timing.uniform(*self.delay_s)))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        poses = [self._pose(index, box) for box in np.asarray(boxes, dtype=np.float64)]
        keypoints = np.array([keypoints for keypoints, _ in poses]).reshape(-1, NUM_JOINTS, 2)
        return keypoints, np.array([scores for _, scores in poses]).reshape(-1, NUM_JOINTS)

    def _pose(self, index: int, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        center, scale = box_to_center_scale(box)
        x1, y1, x2, y2 = center_scale_to_box(center, scale)
        joints, visible = self.clip.joints[index], self.clip.visible[index]
        with np.errstate(invalid="ignore"):
            inside = visible & np.all((joints >= [x1, y1]) & (joints <= [x2, y2]), axis=-1)
        found = inside.sum(axis=1)
        # The person the crop is centred on, of those it shows enough of, as a top-down model picks.
        candidates = np.flatnonzero(found >= MIN_JOINTS_FOUND)
        if len(candidates) == 0:
            rng = np.random.default_rng([self.seed, index])
            background = rng.uniform([x1, y1], [x2, y2], size=(NUM_JOINTS, 2))
            return background, np.full(NUM_JOINTS, BACKGROUND_SCORE)
        middles = np.array([joints[p][visible[p]].mean(axis=0) for p in candidates])
        person = int(candidates[np.argmin(np.linalg.norm(middles - center, axis=1))])
        rng = np.random.default_rng([self.seed, index, person])
        noisy = joints[person] + rng.normal(0.0, self.noise_px, size=(NUM_JOINTS, 2))
        score = self.weak_score if index in self.weak_frames else self.score
        keypoints = np.where(inside[person][:, None], noisy, center)
        return keypoints, np.where(inside[person], score, BACKGROUND_SCORE)
