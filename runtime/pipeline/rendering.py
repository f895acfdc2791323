"""The image with its skeletons drawn by core.drawing, as `clients.pose --draw` draws them, as PNG bytes."""

import cv2
import numpy as np

from core.drawing import draw_poses
from runtime.pipeline.pose import PoseEstimate


def render_png(found: PoseEstimate) -> bytes:
    """The decoded upright image with every person's box (with its detection score, when the detector
    found it), limbs, joints and scores, as PNG bytes."""
    if found.image is None:
        raise ValueError("the pipeline ran without keep_image: there is no image to draw on")
    boxes = np.array([region.box for region in found.regions], dtype=np.float64).reshape(-1, 4)
    box_scores = np.array([np.nan if r.score is None else r.score for r in found.regions], dtype=np.float64)
    rgb = found.image.rgb_window(0, 0, found.width, found.height)
    keypoints = found.keypoints
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    drawn = draw_poses(bgr, keypoints.image_xy, keypoints.scores, boxes, box_scores=box_scores)
    ok, encoded = cv2.imencode(".png", drawn)
    if not ok:
        raise RuntimeError("OpenCV could not encode the rendered image as PNG")
    return encoded.tobytes()
