"""A video's frames on the served models: the `estimate` and `detect` the tracker calls, per frame.

Frames are decoded already (RGB arrays): they enter the image pipeline after decoding, and their crops go
through the same batchers as every image's, so several frames in flight share one inference. Each call
gets its own deadline (the runtime's request deadline) and waits for room in a full queue rather than be
refused. Persons given for the first frame stand in for the detector there; without a detector the
tracker follows them by their keypoints alone.
"""

import asyncio

import numpy as np
from PIL import Image

from runtime.options import DetectionOptions
from runtime.pipeline.detect import find_in_decoded
from runtime.pipeline.images import DecodedImage
from runtime.pipeline.pose import estimate_boxes
from runtime.pipeline.resources import PipelineResources
from runtime.repository.version import LoadedDetector, LoadedModel

GIVEN_PERSON_SCORE = 1.0  # persons the caller gave count as certain detections


class FrameModels:
    """`estimate(frame, boxes)` and `detect(frame)` for one video or stream, with what they ran."""

    def __init__(
        self,
        model: LoadedModel,
        detector: LoadedDetector | None,
        detection: DetectionOptions,
        flip: bool,
        resources: PipelineResources,
        deadline_s: float,
        first_boxes: np.ndarray | None = None,
    ) -> None:
        """`first_boxes` (K, 4): the persons of the first frame, given by the caller (the detector, if any,
        runs from the next detection frame on)."""
        self.model = model
        self.detector = detector
        self.detection = detection
        self.flip = flip
        self.detector_runs = 0
        self._resources = resources
        self._deadline_s = deadline_s
        self._first_boxes = (
            None if first_boxes is None else np.asarray(first_boxes, np.float64).reshape(-1, 4)
        )
        self._last: tuple[np.ndarray, DecodedImage] | None = None

    def _image(self, frame: np.ndarray) -> DecodedImage:
        """The frame as the pipeline's image; detect and estimate on one frame share the conversion."""
        if self._last is None or self._last[0] is not frame:
            self._last = (frame, DecodedImage(Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))))
        return self._last[1]

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self._deadline_s

    async def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 16, 2) in frame pixels and scores (K, 16) of the persons in `boxes` (K, 4)."""
        found = await estimate_boxes(
            self.model, self._image(frame), boxes, self.flip, self._deadline(), self._resources
        )
        return found.image_xy, found.scores

    async def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (K, 4) and scores (K,): the given persons on the first call, else the detector's
        (none without a detector)."""
        if self._first_boxes is not None:
            boxes, self._first_boxes = self._first_boxes, None
            return boxes, np.full(len(boxes), GIVEN_PERSON_SCORE)
        if self.detector is None:
            return np.zeros((0, 4)), np.zeros(0)
        found = await find_in_decoded(self.detector, self._image(frame), self.detection, self._deadline())
        self.detector_runs += 1
        boxes = np.array([region.box for region in found.regions], np.float64).reshape(-1, 4)
        return boxes, np.array([region.score or 0.0 for region in found.regions], np.float64)
