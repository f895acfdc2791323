"""core.drawing: what ends up where on the canvas."""

import numpy as np
import pytest

from core.drawing import SIDE_COLORS, DrawStyle, css_color, draw_poses
from core.joints import SKELETON, limb_side

# A stick figure on a 400x400 canvas with every limb long enough to sample its middle.
FIGURE = np.array(
    [
        [150, 370], [160, 300], [170, 230], [230, 230], [240, 300], [250, 370],  # right leg, left leg
        [200, 230], [200, 140], [200, 110], [200, 40],  # pelvis, thorax, neck, head top
        [60, 170], [90, 130], [140, 110], [260, 110], [310, 130], [340, 170],  # right arm, left arm
    ],
    dtype=np.float64,
)  # fmt: skip


def figure(scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One person's (1, 16, 2) keypoints and (1, 16) scores."""
    return FIGURE[None].copy(), (np.full(16, 0.9) if scores is None else scores)[None]


def midpoint(limb: tuple[int, int]) -> tuple[int, int]:
    x, y = np.rint((FIGURE[limb[0]] + FIGURE[limb[1]]) / 2).astype(int)
    return y, x


def test_every_limb_is_drawn_in_its_side_colour():
    canvas = draw_poses(np.zeros((400, 400, 3), np.uint8), *figure(), style=DrawStyle(show_scores=False))
    for limb in SKELETON:
        assert tuple(canvas[midpoint(limb)]) == SIDE_COLORS[limb_side(limb)], limb


def test_right_and_left_get_different_colours_and_joints_are_marked():
    canvas = draw_poses(np.zeros((400, 400, 3), np.uint8), *figure(), style=DrawStyle(show_scores=False))
    r_wrist, l_wrist = FIGURE[10].astype(int), FIGURE[15].astype(int)
    assert tuple(canvas[r_wrist[1], r_wrist[0]]) == SIDE_COLORS["right"]
    assert tuple(canvas[l_wrist[1], l_wrist[0]]) == SIDE_COLORS["left"]
    assert SIDE_COLORS["right"] != SIDE_COLORS["left"]


def test_low_scoring_joints_and_their_limbs_are_left_out():
    scores = np.full(16, 0.9)
    scores[10] = 0.05  # r_wrist
    canvas = draw_poses(
        np.zeros((400, 400, 3), np.uint8), *figure(scores), style=DrawStyle(min_score=0.1, show_scores=False)
    )
    assert not canvas[midpoint((11, 10))].any()
    assert not canvas[int(FIGURE[10, 1]), int(FIGURE[10, 0])].any()
    assert tuple(canvas[midpoint((12, 11))]) == SIDE_COLORS["right"]


def test_scores_are_written_next_to_the_joints():
    plain = draw_poses(np.zeros((400, 400, 3), np.uint8), *figure(), style=DrawStyle(show_scores=False))
    scored = draw_poses(np.zeros((400, 400, 3), np.uint8), *figure(), style=DrawStyle(show_scores=True))
    x, y = FIGURE[9].astype(int)  # head top: nothing else is drawn above-right of it
    label = (slice(y - 20, y - 5), slice(x + 6, x + 40))
    assert not plain[label].any()
    assert scored[label].any()


def test_the_input_is_not_modified_and_nan_joints_are_skipped():
    image = np.full((400, 400, 3), 7, np.uint8)
    keypoints, scores = figure()
    keypoints[0, 9] = np.nan
    canvas = draw_poses(image, keypoints, scores, style=DrawStyle(show_scores=False))
    assert (image == 7).all()
    assert (canvas[midpoint((8, 9))] == 7).all()
    assert canvas.shape == image.shape and canvas.dtype == np.uint8


def test_the_box_is_drawn():
    boxes = np.array([[20.0, 20.0, 380.0, 390.0]])
    canvas = draw_poses(
        np.zeros((400, 400, 3), np.uint8), FIGURE[None], np.zeros((1, 16)), boxes, DrawStyle(min_score=0.5)
    )
    assert canvas[200, 20].any() and canvas[20, 200].any()
    assert not canvas[200, 200].any()


def test_a_detection_score_is_written_inside_its_box_corner():
    boxes = np.array([[20.0, 20.0, 380.0, 390.0], [0.0, 0.0, 10.0, 10.0]])
    keypoints = np.full((2, 16, 2), np.nan)
    style = DrawStyle(thickness=1)
    canvas, scores = np.zeros((400, 400, 3), np.uint8), np.zeros((2, 16))
    plain = draw_poses(canvas, keypoints, scores, boxes, style)
    scored = draw_poses(canvas, keypoints, scores, boxes, style, np.array([0.87, np.nan]))
    corner = (slice(22, 40), slice(22, 60))
    assert not plain[corner].any() and scored[corner].any()
    assert (scored[60:, :] == plain[60:, :]).all()  # nothing else changes
    assert (scored[:20, :20] == plain[:20, :20]).all()  # the NaN score of the small box writes nothing
    with pytest.raises(ValueError, match="box scores"):
        draw_poses(canvas, keypoints, scores, boxes, style, np.ones(3))


def test_a_non_bgr_image_is_refused():
    with pytest.raises(ValueError, match="BGR uint8"):
        draw_poses(np.zeros((10, 10), np.uint8), np.zeros((0, 16, 2)), np.zeros((0, 16)))


def test_keypoints_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="N, 16, 2"):
        draw_poses(np.zeros((10, 10, 3), np.uint8), np.zeros((1, 15, 2)), np.zeros((1, 15)))


def test_several_persons_are_all_drawn():
    keypoints = np.stack([FIGURE * 0.5, FIGURE * 0.5 + 200])
    canvas = draw_poses(
        np.zeros((400, 400, 3), np.uint8),
        keypoints,
        np.full((2, 16), 0.9),
        style=DrawStyle(show_scores=False),
    )
    for person in keypoints:
        x, y = np.rint(person[15]).astype(int)  # l_wrist
        assert tuple(canvas[y, x]) == SIDE_COLORS["left"]


def test_css_colors_are_the_bgr_colours_as_rgb_hex():
    assert css_color((0, 140, 255)) == "#ff8c00"
    assert css_color(SIDE_COLORS["left"]) == "#0078ff"
