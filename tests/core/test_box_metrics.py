"""IoU, one-to-one matching of detections to people, and the counts recall and false detections come from."""

import numpy as np
import pytest

from core.box_metrics import MatchCount, box_iou, count_matches, match_boxes, match_to_joints


def test_iou_of_known_pairs() -> None:
    first = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], dtype=np.float64)
    second = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]], dtype=np.float64)
    np.testing.assert_allclose(box_iou(first, second), [[1 / 7, 1, 0], [0, 1 / 4, 0]])
    assert box_iou(first, second[:0]).shape == (2, 0)


def test_each_detection_finds_one_person_best_score_first() -> None:
    persons = np.array([[0, 0, 10, 20], [100, 0, 110, 20]], dtype=np.float64)
    detections = np.array([[0, 0, 10, 19], [1, 0, 10, 20], [100, 0, 111, 20], [50, 50, 60, 60]], np.float64)
    match = match_boxes(detections, persons)
    assert match.found.tolist() == [True, True]
    assert match.person_of_detection.tolist() == [0, -1, 1, -1]
    # the duplicate of person 0 is false, as is the box on no one
    assert match.false.tolist() == [False, True, False, True]


def test_an_ignored_region_makes_a_detection_neither_right_nor_wrong() -> None:
    match = match_boxes(np.array([[0, 0, 10, 10.0]]), np.zeros((0, 4)), ignore=np.array([[0, 0, 10, 12.0]]))
    assert match.false.tolist() == [False]
    assert match_boxes(np.array([[0, 0, 10, 10.0]]), np.zeros((0, 4))).false.tolist() == [True]


def test_counts_ignore_short_people_and_add_up() -> None:
    persons = np.array([[0, 0, 10, 100], [50, 0, 60, 50], [200, 0, 220, 120]], dtype=np.float64)
    detections = np.array([[0, 0, 10, 100], [50, 0, 60, 50], [300, 300, 310, 310]], dtype=np.float64)
    count = count_matches(detections, persons, min_height=90)
    # the 50 px person counts neither as missed nor, when found, as a false detection
    assert count == MatchCount(persons=2, found=1, detections=3, false=1)
    total = count + MatchCount(persons=2, found=2, detections=2, false=0)
    assert total == MatchCount(4, 3, 5, 1)
    assert total.recall == pytest.approx(0.75) and total.false_share == pytest.approx(0.2)
    assert MatchCount().false_share == 0.0


def _person(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """16 joints spread evenly over the box (corners included)."""
    xs, ys = np.meshgrid(np.linspace(x1, x2, 4), np.linspace(y1, y2, 4))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _joint_boxes(joints: np.ndarray) -> np.ndarray:
    return np.concatenate([joints.min(axis=1), joints.max(axis=1)], axis=1)


def test_match_to_joints_pairs_each_person_with_its_own_box_one_to_one() -> None:
    joints = np.stack([_person(0, 0, 40, 100), _person(60, 0, 100, 100), _person(200, 0, 240, 100)])
    annotated = np.ones((3, 16), dtype=bool)
    detections = np.array(
        [
            [-5, -5, 105, 105],  # around the first two: overlaps each, but less than their own boxes
            [58, -4, 104, 106],  # the second person
            [-3, -2, 43, 104],  # the first person
            [150, 0, 190, 100],  # nobody
        ],
        dtype=np.float64,
    )
    matched = match_to_joints(detections, _joint_boxes(joints), joints, annotated)
    assert matched.tolist() == [2, 1, -1]
    # without their own boxes, the group box stands for one of the two only
    alone = match_to_joints(detections[[0, 3]], _joint_boxes(joints), joints, annotated)
    assert sorted(alone.tolist()) == [-1, -1, 0]


def test_match_to_joints_needs_half_the_annotated_joints_inside_and_the_iou_floor() -> None:
    joints = _person(0, 0, 40, 100)[None]
    annotated = np.ones((1, 16), dtype=bool)
    upper_half = np.array([[0, 0, 40, 40]], dtype=np.float64)  # 8 of 16 joints
    assert match_to_joints(upper_half, _joint_boxes(joints), joints, annotated).tolist() == [0]
    top_quarter = np.array([[0, 0, 40, 10]], dtype=np.float64)  # 4 of 16
    assert match_to_joints(top_quarter, _joint_boxes(joints), joints, annotated).tolist() == [-1]
    huge = np.array([[-200, -200, 400, 400]], dtype=np.float64)  # every joint inside, IoU 0.01
    assert match_to_joints(huge, _joint_boxes(joints), joints, annotated).tolist() == [-1]
    # joints that are not annotated do not count: the corner box holds 4 of 16 joints, all 4 annotated ones
    corner = np.array([[0, 0, 25, 34]], dtype=np.float64)
    assert match_to_joints(corner, _joint_boxes(joints), joints, annotated).tolist() == [-1]
    some = np.zeros((1, 16), dtype=bool)
    some[0, [0, 1, 4, 5]] = True
    some_box = _joint_boxes(joints[:, [0, 1, 4, 5]])
    assert match_to_joints(corner, some_box, joints, some).tolist() == [0]
    assert match_to_joints(np.zeros((0, 4)), _joint_boxes(joints), joints, annotated).tolist() == [-1]
