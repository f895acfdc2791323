"""The image with its skeletons drawn by core.drawing, as `clients.pose --draw` draws them, as PNG bytes.

The drawing is made on the image scaled to at most `RuntimeOptions.render_max_side` (kept by the pipeline
in place of the full-size image), so one render holds a few bounded copies of that size, whatever the
upload's size.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from core.drawing import draw_poses
from runtime.pipeline.pose import PoseEstimate


@dataclass(frozen=True)
class RenderedImage:
    """A PNG and its scale: its pixels per pixel of the (upright) image the keypoints refer to."""

    png: bytes
    scale: float


def render_png(found: PoseEstimate) -> RenderedImage:
    """The scaled upright image with every person's box (with its detection score, when the detector found
    it), limbs, joints and scores, as PNG bytes."""
    image = found.scaled_image
    if image is None:
        raise ValueError("the pipeline kept no scaled image: there is nothing to draw on")
    corners = np.array([region.box for region in found.regions], dtype=np.float64).reshape(-1, 2, 2)
    boxes = image.points(corners, found.width, found.height).reshape(-1, 4)
    box_scores = np.array([np.nan if r.score is None else r.score for r in found.regions], dtype=np.float64)
    keypoints = image.points(found.keypoints.image_xy, found.width, found.height)
    bgr = cv2.cvtColor(image.rgb, cv2.COLOR_RGB2BGR)
    drawn = draw_poses(bgr, keypoints, found.keypoints.scores, boxes, box_scores=box_scores)
    ok, encoded = cv2.imencode(".png", drawn)
    if not ok:
        raise RuntimeError("OpenCV could not encode the rendered image as PNG")
    return RenderedImage(encoded.tobytes(), image.scale)
