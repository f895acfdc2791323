"""PoseTracker and the planning functions on hand-made poses (the clips' tests are in test_video_poses)."""

import numpy as np
import pytest

from core.joints import NUM_JOINTS
from runtime.video.tracking import (
    PoseTracker,
    TrackingOptions,
    TrackState,
    confident_detections,
    needs_detection,
    plan_boxes,
)

# A fixed spread of 16 joints in a unit square, standing in for a person's layout.
LAYOUT = np.random.default_rng(0).uniform(-0.5, 0.5, size=(NUM_JOINTS, 2)) * [0.5, 1.0]
IMAGE_SIZE = (480, 640)


def _pose(center: tuple[float, float], height: float = 100.0) -> np.ndarray:
    return np.asarray(center) + LAYOUT * height


def _frame(
    centers: list[tuple[float, float]], score: float = 0.9, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, keypoints (with a little noise) and scores of persons at these centres."""
    rng = np.random.default_rng(seed)
    keypoints = np.array([_pose(c) + rng.normal(0, 1.0, (NUM_JOINTS, 2)) for c in centers]).reshape(-1, 16, 2)
    boxes = np.concatenate([keypoints.min(axis=1) - 10, keypoints.max(axis=1) + 10], axis=1)
    return boxes, keypoints, np.full((len(centers), NUM_JOINTS), score)


def _ids_by_x(persons: tuple, xs: list[float]) -> list[int]:  # type: ignore[type-arg]
    """The track ID of the person nearest to each x."""
    centers = [person.keypoints.mean(axis=0)[0] for person in persons]
    return [persons[int(np.argmin([abs(c - x) for c in centers]))].track_id for x in xs]


@pytest.mark.parametrize("similarity", ["oks", "iou"])
def test_two_persons_keep_their_ids_whatever_order_their_poses_come_in(similarity: str) -> None:
    tracker = PoseTracker(TrackingOptions(similarity=similarity))  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    first_ids = None
    for frame in range(20):
        xs = [100.0 + 4 * frame, 300.0 - 4 * frame]  # walking towards each other, 200 -> 48 px apart
        boxes, keypoints, scores = _frame([(x, 200.0) for x in xs], seed=frame)
        order = rng.permutation(2)
        update = tracker.update(frame, frame / 25, boxes[order], keypoints[order], scores[order])
        ids = _ids_by_x(update.persons, xs)
        if first_ids is None:
            first_ids = ids
            assert update.started == (1, 2)
        assert ids == first_ids
        assert [person.track_id for person in update.persons] == sorted(ids)


def test_a_missing_person_ends_after_exactly_max_missed_frames_and_the_id_is_not_reused() -> None:
    options = TrackingOptions(max_missed_frames=5)
    tracker = PoseTracker(options)
    for frame in range(3):
        tracker.update(frame, frame / 25, *_frame([(100.0, 200.0)]))
    assert tracker.track_ids == (1,)
    empty = _frame([])
    for frame in range(3, 3 + options.max_missed_frames):
        assert tracker.update(frame, frame / 25, *empty).ended == ()
        assert tracker.state.missing
    assert tracker.update(8, 8 / 25, *empty).ended == (1,)  # missed frames 3-8: more than 5
    assert tracker.track_ids == ()
    back = tracker.update(9, 9 / 25, *_frame([(100.0, 200.0)]))
    assert [person.track_id for person in back.persons] == [2] and back.started == (2,)


def test_a_person_back_within_max_missed_frames_keeps_the_id() -> None:
    tracker = PoseTracker(TrackingOptions(max_missed_frames=5))
    tracker.update(0, 0.0, *_frame([(100.0, 200.0)]))
    for frame in (1, 2, 3):
        tracker.update(frame, frame / 25, *_frame([]))
    back = tracker.update(4, 4 / 25, *_frame([(103.0, 200.0)]))
    assert [person.track_id for person in back.persons] == [1] and back.started == ()


def test_one_person_found_from_two_boxes_is_one_person_with_the_better_pose() -> None:
    tracker = PoseTracker()
    boxes, keypoints, scores = _frame([(100.0, 200.0), (101.0, 201.0), (400.0, 200.0)])
    scores[1] = 0.95
    update = tracker.update(0, 0.0, boxes, keypoints, scores)
    assert len(update.persons) == 2
    assert np.array_equal(update.persons[0].keypoints, keypoints[1])


def test_a_pose_scoring_below_min_pose_score_is_not_a_person() -> None:
    tracker = PoseTracker(TrackingOptions(min_pose_score=0.2))
    update = tracker.update(0, 0.0, *_frame([(100.0, 200.0)], score=0.1))
    assert update.persons == () and tracker.state.empty


def test_each_track_keeps_raw_and_smoothed_joints() -> None:
    tracker = PoseTracker()
    rng = np.random.default_rng(2)
    raw, smoothed = [], []
    for frame in range(30):
        boxes, keypoints, scores = _frame([(200.0, 200.0)], seed=frame)
        keypoints = keypoints + rng.normal(0, 4.0, keypoints.shape)
        person = tracker.update(frame, frame / 25, boxes, keypoints, scores).persons[0]
        assert np.array_equal(person.keypoints, keypoints[0]) and np.array_equal(person.box, boxes[0])
        raw.append(person.keypoints)
        smoothed.append(person.smoothed)
    assert np.std(np.diff(smoothed, axis=0)) < 0.5 * np.std(np.diff(raw, axis=0))


def test_frames_go_in_order_and_poses_match_their_boxes() -> None:
    tracker = PoseTracker()
    tracker.update(3, 0.1, *_frame([(100.0, 200.0)]))
    with pytest.raises(ValueError, match="in order"):
        tracker.update(3, 0.2, *_frame([]))
    boxes, keypoints, scores = _frame([(100.0, 200.0)])
    with pytest.raises(ValueError, match="1 boxes need"):
        tracker.update(4, 0.2, boxes, keypoints[:, :15], scores)


def test_the_state_says_who_is_seen_weak_or_missing() -> None:
    tracker = PoseTracker(TrackingOptions(weak_track_score=0.5, joint_score_threshold=0.2))
    tracker.update(0, 0.0, *_frame([(100.0, 200.0), (400.0, 200.0)]))
    state = tracker.state
    assert state.frame_index == 0 and len(state.boxes) == 2 and not state.weak and not state.missing
    expected = np.concatenate([_pose((100.0, 200.0)).min(axis=0), _pose((100.0, 200.0)).max(axis=0)])
    assert np.allclose(state.boxes[0], expected, atol=4)  # around its joints (noise of 1 px)
    tracker.update(1, 0.04, *_frame([(100.0, 200.0)], score=0.4))  # weak; the other one missing
    state = tracker.state
    assert state.weak and state.missing and len(state.boxes) == 1


def test_detection_runs_every_n_frames_and_when_the_state_asks() -> None:
    options = TrackingOptions(detect_every=5)
    seen = TrackState(3, np.ones((1, 4)), weak=False, missing=False)
    assert [needs_detection(seen, frame, options) for frame in range(4, 11)] == [
        False, True, False, False, False, False, True,
    ]  # fmt: skip
    for state in (
        TrackState(None, np.zeros((0, 4)), weak=False, missing=False),  # nobody
        TrackState(3, np.ones((1, 4)), weak=True, missing=False),
        TrackState(3, np.ones((1, 4)), weak=False, missing=True),
    ):
        assert needs_detection(state, 7, options)


def test_confident_detections_best_first() -> None:
    options = TrackingOptions(detection_min_score=0.5)
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 20], [0, 0, 0, 10], [1, 1, 9, 9]], dtype=float)
    kept = confident_detections(boxes, np.array([0.6, 0.9, 0.99, 0.3]), options)
    assert kept.tolist() == [[5, 5, 20, 20], [0, 0, 10, 10]]  # the empty box and the unsure one go
    with pytest.raises(ValueError, match="boxes"):
        confident_detections(np.zeros((2, 3)), np.zeros(2), options)


def test_planned_boxes_prefer_fresh_detections_and_grow_with_lag() -> None:
    options = TrackingOptions(box_enlarge=1.2, lag_enlarge_per_frame=0.1, detection_overlap_iou=0.4)
    tracked = np.array([[100.0, 100.0, 200.0, 300.0], [400.0, 100.0, 500.0, 300.0]])
    state = TrackState(10, tracked, weak=False, missing=False)
    next_frame = plan_boxes(state, 11, [], IMAGE_SIZE, options)
    assert np.allclose(next_frame[0], [90.0, 80.0, 210.0, 320.0])  # 1.2 x about its centre
    three_ahead = plan_boxes(state, 13, [], IMAGE_SIZE, options)
    assert np.allclose(three_ahead[0], [80.0, 60.0, 220.0, 340.0])  # (1.2 + 2 x 0.1) x
    detection = np.array([[105.0, 95.0, 205.0, 305.0]])  # the first person, freshly found
    stranger = np.array([[300.0, 300.0, 350.0, 420.0]])
    planned = plan_boxes(state, 11, [detection, stranger], IMAGE_SIZE, options)
    assert planned.tolist() == [detection[0].tolist(), stranger[0].tolist(), next_frame[1].tolist()]


def test_planned_boxes_are_clipped_to_the_image_and_capped() -> None:
    options = TrackingOptions(max_persons=2)
    state = TrackState(0, np.array([[600.0, 400.0, 700.0, 500.0], [700.0, 0.0, 800.0, 50.0]]), False, False)
    planned = plan_boxes(state, 1, [], IMAGE_SIZE, options)
    assert planned.tolist() == [[590.0, 390.0, 640.0, 480.0]]  # the other one lies outside the image
    many = [np.array([[x, 0.0, x + 20.0, 40.0]]) for x in (0.0, 100.0, 200.0)]
    assert len(plan_boxes(state, 1, many, IMAGE_SIZE, options)) == 2
