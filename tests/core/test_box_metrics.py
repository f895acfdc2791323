"""IoU, one-to-one matching of detections to people, and the counts recall and false detections come from."""

import numpy as np
import pytest

from core.box_metrics import MatchCount, box_iou, count_matches, match_boxes


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
