import numpy as np
import pytest

from core.joints import NUM_JOINTS, Joint
from core.pose_similarity import (
    MPII_OKS_SIGMAS,
    box_areas,
    greedy_distinct,
    keypoint_boxes,
    oks_matrix,
    scale_boxes,
)


def _pose(rng: np.random.Generator, center: tuple[float, float] = (100.0, 100.0)) -> np.ndarray:
    return np.asarray(center) + rng.uniform(-40, 40, size=(NUM_JOINTS, 2))


def test_scale_boxes_keeps_the_centre_and_scales_the_sides() -> None:
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 2.0, 2.0]])
    grown = scale_boxes(boxes, 1.5)
    assert np.allclose((grown[:, :2] + grown[:, 2:]) / 2, (boxes[:, :2] + boxes[:, 2:]) / 2)
    assert np.allclose(grown[:, 2:] - grown[:, :2], 1.5 * (boxes[:, 2:] - boxes[:, :2]))


def test_keypoint_boxes_surround_only_the_confident_joints() -> None:
    keypoints = np.zeros((2, NUM_JOINTS, 2))
    keypoints[0, :, 0] = np.arange(NUM_JOINTS) * 10.0
    keypoints[0, :, 1] = 5.0 + np.arange(NUM_JOINTS)
    scores = np.full((2, NUM_JOINTS), 0.9)
    scores[0, [0, 15]] = 0.1  # the extreme joints are not confident
    scores[1, 1:] = 0.0  # one confident joint has no extent
    boxes = keypoint_boxes(keypoints, scores, min_score=0.5, min_joints=2)
    assert np.allclose(boxes[0], [10.0, 6.0, 140.0, 19.0])
    assert np.isnan(boxes[1]).all()


def test_box_areas_are_never_negative() -> None:
    boxes = np.array([[0.0, 0.0, 10.0, 5.0], [5.0, 0.0, 15.0, 10.0], [10.0, 10.0, 5.0, 20.0]])
    assert box_areas(boxes).tolist() == [50.0, 100.0, 0.0]


def test_oks_is_one_for_the_same_pose_and_falls_with_distance() -> None:
    rng = np.random.default_rng(0)
    pose = _pose(rng)
    shifted = np.stack([pose + d for d in (0.0, 2.0, 5.0, 10.0, 40.0)])
    oks = oks_matrix(pose[None], shifted, np.array([80.0 * 80.0]))[0]
    assert oks[0] == pytest.approx(1.0)
    assert np.all(np.diff(oks) < 0)
    # A larger person tolerates the same shift better.
    larger = oks_matrix(pose[None], shifted, np.array([160.0 * 160.0]))[0]
    assert np.all(larger[1:] > oks[1:])


def test_oks_of_one_joint_matches_cocos_formula() -> None:
    area = 50.0 * 50.0
    sigma = MPII_OKS_SIGMAS[Joint.L_WRIST]
    distance = np.sqrt(2 * area * (2 * sigma) ** 2)  # where exp(-d² / (2 area (2σ)²)) is 1/e
    a = np.zeros((1, NUM_JOINTS, 2))
    b = a.copy()
    b[0, Joint.L_WRIST, 0] = distance
    only_wrist = np.zeros((1, NUM_JOINTS), bool)
    only_wrist[0, Joint.L_WRIST] = True
    assert oks_matrix(a, b, np.array([area]), only_wrist, None)[0, 0] == pytest.approx(np.exp(-1))


def test_oks_counts_only_joints_marked_in_both_poses() -> None:
    rng = np.random.default_rng(1)
    pose = _pose(rng)
    moved = pose.copy()
    moved[Joint.HEAD_TOP] += 200.0  # far off, but not confident in the second pose
    joints_b = np.ones((1, NUM_JOINTS), bool)
    joints_b[0, Joint.HEAD_TOP] = False
    area = np.array([80.0 * 80.0])
    assert oks_matrix(pose[None], moved[None], area, None, joints_b)[0, 0] == pytest.approx(1.0)
    assert oks_matrix(pose[None], moved[None], area)[0, 0] < 0.95
    nothing_shared = np.zeros((1, NUM_JOINTS), bool)
    assert oks_matrix(pose[None], pose[None], area, nothing_shared, None)[0, 0] == 0.0
    assert oks_matrix(pose[None], pose[None], np.array([0.0]))[0, 0] == 0.0


def test_mpii_sigmas_follow_coco_for_the_shared_joints() -> None:
    assert MPII_OKS_SIGMAS.shape == (NUM_JOINTS,)
    coco = {"ankle": 0.089, "knee": 0.087, "hip": 0.107, "wrist": 0.062, "elbow": 0.072, "shoulder": 0.079}
    for joint in Joint:
        part = joint.name.lower().split("_", 1)[-1]
        if part in coco:
            assert MPII_OKS_SIGMAS[joint] == coco[part], joint.name


def test_greedy_distinct_drops_items_alike_to_an_earlier_kept_one() -> None:
    similarity = np.array(
        [
            [1.0, 0.9, 0.1, 0.0],
            [0.9, 1.0, 0.2, 0.8],
            [0.1, 0.2, 1.0, 0.1],
            [0.0, 0.8, 0.1, 1.0],
        ]
    )
    # 1 goes (like 0); 3 stays: it is like 1 only, which was dropped.
    assert greedy_distinct(similarity, 0.7).tolist() == [0, 2, 3]
    assert greedy_distinct(np.zeros((0, 0)), 0.7).tolist() == []
