"""Draw predicted skeletons on an image: limbs and joints coloured by body side, joint scores as text.

A pure function of its inputs (the image is copied), so what a user sees from `clients.pose --draw` is
testable pixel by pixel.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from clients.api import PredictedPerson
from core.joints import SKELETON, joint_side, limb_side

# BGR, as OpenCV draws: the person's right in orange, left in blue, the midline in green.
SIDE_COLORS: dict[str, tuple[int, int, int]] = {
    "right": (0, 140, 255),
    "left": (255, 120, 0),
    "center": (0, 200, 0),
}
BOX_COLOR = (200, 200, 200)
TEXT_COLOR = (255, 255, 255)


@dataclass(frozen=True)
class DrawStyle:
    """`min_score`: joints below it are left out, and so are limbs touching them."""

    min_score: float = 0.0
    show_scores: bool = True
    show_box: bool = True
    thickness: int | None = None  # None: scaled to the image size


def _thickness(image: np.ndarray, style: DrawStyle) -> int:
    return style.thickness if style.thickness is not None else max(1, round(min(image.shape[:2]) / 250))


def draw_poses(
    image: np.ndarray, poses: Sequence[PredictedPerson], style: DrawStyle = DrawStyle()
) -> np.ndarray:
    """A copy of a BGR uint8 image (H, W, 3) with every person's box, limbs, joints and scores drawn."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a BGR uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    canvas = image.copy()
    thickness = _thickness(image, style)
    for pose in poses:
        shown = np.isfinite(pose.keypoints).all(axis=1) & (pose.scores >= style.min_score)
        points = np.rint(np.where(shown[:, None], pose.keypoints, 0)).astype(int)
        if style.show_box and pose.box is not None and np.isfinite(pose.box).all():
            x1, y1, x2, y2 = np.rint(pose.box).astype(int)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), BOX_COLOR, thickness, cv2.LINE_AA)
        for limb in SKELETON:
            if shown[limb[0]] and shown[limb[1]]:
                start, end = (tuple(points[j]) for j in limb)
                cv2.line(canvas, start, end, SIDE_COLORS[limb_side(limb)], thickness + 1, cv2.LINE_AA)
        for joint in np.flatnonzero(shown):
            center = tuple(points[joint])
            cv2.circle(canvas, center, thickness + 2, SIDE_COLORS[joint_side(int(joint))], -1, cv2.LINE_AA)
            if style.show_scores:
                origin = (center[0] + thickness + 3, center[1] - thickness - 3)
                cv2.putText(
                    canvas,
                    f"{pose.scores[joint]:.2f}",
                    origin,
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.3 * thickness,
                    TEXT_COLOR,
                    1,
                    cv2.LINE_AA,
                )
    return canvas
