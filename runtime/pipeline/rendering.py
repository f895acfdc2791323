"""The image with its skeletons drawn by core.drawing, as `clients.pose --draw` draws them, as PNG bytes."""

import cv2
import numpy as np

from core.drawing import draw_poses
from runtime.pipeline.pose import PoseEstimate


def render_png(found: PoseEstimate) -> bytes:
    """The decoded upright image with every person's box, limbs, joints and scores, as PNG bytes."""
    if found.image is None:
        raise ValueError("the pipeline ran without keep_image: there is no image to draw on")
    boxes = np.array([region.box for region in found.regions], dtype=np.float64).reshape(-1, 4)
    rgb = found.image.rgb_window(0, 0, found.width, found.height)
    drawn = draw_poses(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), found.keypoints.image_xy, found.keypoints.scores, boxes
    )
    ok, encoded = cv2.imencode(".png", drawn)
    if not ok:
        raise RuntimeError("OpenCV could not encode the rendered image as PNG")
    return encoded.tobytes()
