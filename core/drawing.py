"""Draw predicted skeletons on an image: limbs and joints coloured by body side, joint scores as text.

The one drawing of the project: `clients.pose --draw` and the service's `render=png` both call
`draw_poses`, and the demo page takes its colours from `SIDE_COLORS` (through the service). A pure function
of its inputs (the image is copied), so what a user sees is testable pixel by pixel.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from core.joints import NUM_JOINTS, SKELETON, joint_side, limb_side

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


def css_color(bgr: tuple[int, int, int]) -> str:
    """'#rrggbb' for a BGR triple, for pages that draw in the same colours."""
    blue, green, red = bgr
    return f"#{red:02x}{green:02x}{blue:02x}"


def _thickness(image: np.ndarray, style: DrawStyle) -> int:
    return style.thickness if style.thickness is not None else max(1, round(min(image.shape[:2]) / 250))


def draw_poses(
    image: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray | None = None,
    style: DrawStyle = DrawStyle(),
    box_scores: np.ndarray | None = None,
) -> np.ndarray:
    """A copy of a BGR uint8 image (H, W, 3) with every person's box, limbs, joints and scores drawn.

    keypoints (N, 16, 2) in image pixels (NaN: not drawn), scores (N, 16), boxes (N, 4) x1, y1, x2, y2;
    box_scores (N,): the detector's score of each box, written inside its top-left corner (NaN: none).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a BGR uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    keypoints, scores = np.asarray(keypoints, np.float64), np.asarray(scores, np.float64)
    count = len(keypoints)
    if keypoints.shape != (count, NUM_JOINTS, 2) or scores.shape != (count, NUM_JOINTS):
        raise ValueError(
            f"expected keypoints (N, 16, 2) and scores (N, 16), got {keypoints.shape} {scores.shape}"
        )
    if boxes is not None and np.shape(boxes) != (count, 4):
        raise ValueError(f"expected boxes ({count}, 4), got {np.shape(boxes)}")
    if box_scores is not None and np.shape(box_scores) != (count,):
        raise ValueError(f"expected box scores ({count},), got {np.shape(box_scores)}")
    canvas = image.copy()
    thickness = _thickness(image, style)
    shown = np.isfinite(keypoints).all(axis=2) & (scores >= style.min_score)
    points = np.rint(np.where(shown[..., None], keypoints, 0)).astype(int)
    for person in range(count):
        box = None if boxes is None else np.asarray(boxes[person], np.float64)
        if style.show_box and box is not None and np.isfinite(box).all():
            x1, y1, x2, y2 = np.rint(box).astype(int)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), BOX_COLOR, thickness, cv2.LINE_AA)
            box_score = np.nan if box_scores is None else float(box_scores[person])
            if np.isfinite(box_score):
                origin = (x1 + 2 * thickness, y1 + 12 * thickness)
                cv2.putText(
                    canvas,
                    f"{box_score:.2f}",
                    origin,
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness,
                    BOX_COLOR,
                    1,
                    cv2.LINE_AA,
                )
        for limb in SKELETON:
            if shown[person, limb[0]] and shown[person, limb[1]]:
                start, end = (tuple(points[person, j]) for j in limb)
                cv2.line(canvas, start, end, SIDE_COLORS[limb_side(limb)], thickness + 1, cv2.LINE_AA)
        for joint in np.flatnonzero(shown[person]):
            center = tuple(points[person, joint])
            cv2.circle(canvas, center, thickness + 2, SIDE_COLORS[joint_side(int(joint))], -1, cv2.LINE_AA)
            if style.show_scores:
                origin = (center[0] + thickness + 3, center[1] - thickness - 3)
                cv2.putText(
                    canvas,
                    f"{scores[person, joint]:.2f}",
                    origin,
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.3 * thickness,
                    TEXT_COLOR,
                    1,
                    cv2.LINE_AA,
                )
    return canvas
