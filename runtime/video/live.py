"""Tracking a live stream one frame at a time: each frame is planned from the state after the one before.

A stream answers its newest frame as soon as it can, so nothing is pipelined (the orchestrator's
`max_frames_in_flight` of 1): frames that arrive while one is estimated are not queued here; the edge
keeps only the newest of them and drops the rest.
"""

import numpy as np

from core.joints import NUM_JOINTS
from runtime.video.orchestrator import Detect, Estimate, FramePoses, VideoPoseOptions
from runtime.video.tracking import PoseTracker, confident_detections, needs_detection, plan_boxes


class LiveTracker:
    """The tracking state of one stream; `track` once per frame, frame indices increasing."""

    def __init__(self, estimate: Estimate, detect: Detect, options: VideoPoseOptions | None = None) -> None:
        self.options = options or VideoPoseOptions()
        self._estimate = estimate
        self._detect = detect
        self._tracker = PoseTracker(self.options.tracking, self.options.smoothing)

    async def track(self, index: int, time_s: float, image: np.ndarray) -> FramePoses:
        """The tracked persons of frame `index` at `time_s` (RGB `image`)."""
        tracking = self.options.tracking
        state = self._tracker.state
        detections = (
            confident_detections(*await self._detect(image), tracking)
            if needs_detection(state, index, tracking)
            else None
        )
        fresh = [] if detections is None else [detections]
        boxes = plan_boxes(state, index, fresh, image.shape[:2], tracking)
        keypoints, scores = (
            await self._estimate(image, boxes)
            if len(boxes)
            else (np.zeros((0, NUM_JOINTS, 2)), np.zeros((0, NUM_JOINTS)))
        )
        update = self._tracker.update(index, time_s, boxes, keypoints, scores)
        return FramePoses(
            index=index,
            time_s=time_s,
            persons=update.persons,
            started_track_ids=update.started,
            ended_track_ids=update.ended,
            detected=detections is not None,
        )
