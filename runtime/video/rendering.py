"""A tracked frame drawn by core.drawing, the drawing of `render=png` and `clients.pose --draw`."""

import cv2
import numpy as np

from core.drawing import DrawStyle, draw_poses
from core.joints import NUM_JOINTS
from runtime.video.tracking import TrackedPose

# Scores beside every joint of every frame would cover a video; the skeletons and boxes say enough.
VIDEO_STYLE = DrawStyle(show_scores=False)


def draw_tracked(image: np.ndarray, persons: tuple[TrackedPose, ...], smoothed: bool) -> np.ndarray:
    """A copy of an RGB frame with each person's box and skeleton (smoothed joints, or raw) drawn."""
    count = len(persons)
    keypoints = np.array([p.smoothed if smoothed else p.keypoints for p in persons])
    scores = np.array([p.scores for p in persons]).reshape(count, NUM_JOINTS)
    boxes = np.array([p.box for p in persons]).reshape(count, 4)
    keypoints = keypoints.reshape(count, NUM_JOINTS, 2)
    drawn = draw_poses(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), keypoints, scores, boxes, VIDEO_STYLE)
    return cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB)
