"""The generator's style families: deterministic per seed, each drawn as its family says, filtered on the
command line, and annotated in MPII's conventions with each person's family beside the MPII fields."""

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.joints import Joint
from core.mpii import read_annotations
from training.synth import main
from training.synth.annotation import annotate, read_families
from training.synth.body import build_figure
from training.synth.drawing import DISTRACTOR_OWNER, Canvas, Part, part_owner
from training.synth.families import FAMILIES, sample_person, select_families
from training.synth.photos import PEOPLE_FREE_PHOTOS, load_photos
from training.synth.pose import (
    ACTIVITIES,
    ARM_JOINTS,
    LEG_JOINTS,
    SIDES,
    Proportions,
    frame_skeleton,
    pose_skeleton,
    sample_pose,
)
from training.synth.scene import render_image
from training.synth.wardrobe import Look, Outfit

SIZE = (160, 200)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_image_other_seed_other_image(family: str) -> None:
    image, entries = render_image(5, "train", 3, SIZE, (family,))
    again, entries_again = render_image(5, "train", 3, SIZE, (family,))
    other, _ = render_image(6, "train", 3, SIZE, (family,))
    np.testing.assert_array_equal(image, again)
    assert [e.part.tolist() for e in entries] == [e.part.tolist() for e in entries_again]
    assert not np.array_equal(image, other)


def _figure(family: str, seed: int):
    rng = np.random.default_rng(seed)
    return sample_person(rng, family, np.array([150.0, 150.0]), 240.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_draws_a_whole_person_in_its_style(family: str) -> None:
    for seed in range(12):
        figure = _figure(family, seed)
        assert figure.joints.shape == (16, 2) and np.isfinite(figure.joints).all()
        assert 0 < len(figure.parts) <= 64
        x0, y0, x1, y1 = figure.head_box
        head = figure.joints[[Joint.UPPER_NECK, Joint.HEAD_TOP]]
        assert np.all((head >= np.array([x0, y0]) - 1) & (head <= np.array([x1, y1]) + 1)), (
            "head box misses the head"
        )
        if family == "flat":
            assert all(p.shading == 0 and p.pattern is None for p in figure.parts)
        if family == "textured":
            assert sum(p.pattern is not None for p in figure.parts) >= len(figure.parts) // 2
        if family == "clothed":
            assert all(p.shading > 0 for p in figure.parts)
        if family == "capsule":
            assert all(p.pattern is None for p in figure.parts)


def test_volumetric_bodies_are_not_only_capsules() -> None:
    kinds = {p.kind for seed in range(5) for p in _figure("clothed", seed).parts}
    assert {"polygon", "ellipse"} <= kinds


def _skeleton(yaw: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    return pose_skeleton(sample_pose(rng), Proportions.sample(rng), yaw, 0.0)


def test_facing_sets_which_side_is_on_the_image_left() -> None:
    """Facing the camera, the right shoulder is on the image's left (smaller X); from behind, on the right."""
    for seed in range(10):
        front, back = _skeleton(0.0, seed), _skeleton(180.0, seed)
        assert front.facing_camera and not back.facing_camera
        assert front.joints[Joint.R_HIP, 0] < front.joints[Joint.L_HIP, 0]
        assert back.joints[Joint.R_HIP, 0] > back.joints[Joint.L_HIP, 0]


def test_face_is_drawn_towards_the_camera_only_and_feet_point_the_way_the_person_faces() -> None:
    rng = np.random.default_rng(4)
    outfit, look = Outfit.sample(rng), Look.shaded(rng)
    for yaw, faces_right in ((90.0, True), (-90.0, False)):
        skeleton = _skeleton(yaw)
        projection = frame_skeleton(skeleton, np.array([200.0, 200.0]), 300.0, 0.0)
        figure = build_figure(skeleton, projection, outfit, look)
        feet = [p for p in figure.parts if p.joints in ((Joint.R_ANKLE,), (Joint.L_ANKLE,))]
        for foot in feet:
            ankle = figure.joints[foot.joints[0]]
            assert (foot.axis.mean(axis=0)[0] > ankle[0]) == faces_right
    # Facing the camera the face's features are drawn after (over) the head; from behind, before (under) it.
    plain = replace(outfit, coat=False, hat=False)
    for yaw in (0.0, 180.0):
        skeleton = _skeleton(yaw)
        projection = frame_skeleton(skeleton, np.array([200.0, 200.0]), 300.0, 0.0)
        parts = build_figure(skeleton, projection, plain, look).parts
        head = next(
            i
            for i, p in enumerate(parts)
            if p.kind == "ellipse"
            and p.joints == (Joint.UPPER_NECK, Joint.HEAD_TOP)
            and np.allclose(p.color, plain.colors["skin"])
        )
        features = [i for i, p in enumerate(parts) if np.allclose(p.color, plain.colors["feature"])]
        assert len(features) == 4
        assert all((i > head) == (yaw == 0.0) for i in features)


def test_pose_prior_keeps_bone_lengths_and_moves_limbs_together() -> None:
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(200):
        pose, proportions = sample_pose(rng), Proportions.sample(rng)
        seen.add(pose.activity)
        skeleton = pose_skeleton(pose, proportions, rng.uniform(-180, 180), rng.uniform(-10, 10))
        for side in SIDES:
            hip, knee, ankle = (skeleton.joints[j] for j in LEG_JOINTS[side])
            shoulder, elbow, wrist = (skeleton.joints[j] for j in ARM_JOINTS[side])
            assert np.linalg.norm(knee - hip) == pytest.approx(proportions.thigh)
            assert np.linalg.norm(ankle - knee) == pytest.approx(proportions.shin)
            assert np.linalg.norm(elbow - shoulder) == pytest.approx(proportions.upper_arm)
            assert np.linalg.norm(wrist - elbow) == pytest.approx(proportions.forearm)
            assert 0 <= pose.legs[side].bend <= 150 and 0 <= pose.arms[side].bend <= 150
        if pose.activity == "walking":  # each arm swings against the leg of its side
            for side in SIDES:
                assert pose.arms[side].flexion * pose.legs[side].flexion <= 0
    assert seen == set(ACTIVITIES)


def test_select_families_filters_and_refuses_bad_names() -> None:
    assert select_families() == FAMILIES
    assert select_families(["textured", "flat"]) == ("flat", "textured")
    assert select_families(None, ["capsule"]) == tuple(f for f in FAMILIES if f != "capsule")
    with pytest.raises(ValueError, match="unknown family"):
        select_families(["cubist"])
    with pytest.raises(ValueError, match="no family left"):
        select_families(["flat"], ["flat"])


def test_photographs_are_the_people_free_ones_shipped_with_scikit_image() -> None:
    photos = load_photos()
    assert len(photos) == len(PEOPLE_FREE_PHOTOS)
    assert not {"astronaut.png", "camera.png", "coins.png"} & set(PEOPLE_FREE_PHOTOS)
    assert all(p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8 for p in photos)


@pytest.fixture(scope="module")
def filtered_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("families")
    main(
        [
            "--out",
            str(out),
            "--train",
            "30",
            "--val",
            "6",
            "--seed",
            "2",
            "--workers",
            "2",
            "--image-size",
            "160",
            "220",
            "--exclude-family",
            "capsule",
            "--exclude-family",
            "clothed",
        ]
    )
    return out


def test_command_line_filter_and_family_recorded_per_person(filtered_dir: Path) -> None:
    for split, count in (("train", 30), ("valid", 6)):
        path = filtered_dir / "annot" / f"{split}.h5"
        annotations = read_annotations(path)  # the MPII reader ignores the extra dataset
        families = read_families(path)
        assert len(annotations) == len(families) == count
        assert set(families) <= {"flat", "textured"}
    assert set(read_families(filtered_dir / "annot" / "train.h5")) == {"flat", "textured"}


def test_annotations_of_volumetric_families_are_valid(filtered_dir: Path) -> None:
    annotations = read_annotations(filtered_dir / "annot" / "train.h5")
    occluded = 0
    for i, name in enumerate(annotations.imgname):
        height, width = cv2.imread(str(filtered_dir / "images" / name)).shape[:2]
        part, annotated, visible = annotations.part[i], annotations.annotated[i], annotations.visible[i]
        assert np.all(part[~annotated] == 0) and np.all(visible[~annotated] == 0)
        assert np.all((part[annotated] >= 1) & (part[annotated] <= [width, height]))
        assert annotations.normalize[i] > 0 and annotations.scale[i] > 0
        occluded += int(np.sum(annotated & (visible == 0)))
    assert occluded > 0, "no occluded joint in 30 persons"


def test_unknown_family_on_the_command_line_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--train", "1", "--val", "0", "--families", "cubist"])
    assert exit_info.value.code == 2
    assert "unknown family" in capsys.readouterr().err


def _painted(figure, size: tuple[int, int] = (320, 300)) -> Canvas:
    canvas = Canvas(np.full((*size, 3), 128.0, np.float32), 30.0)
    for index, part in enumerate(figure.parts):
        canvas.paint(part, part_owner(0, index), figure.texture)
    return canvas


def test_clothes_leave_joints_visible_and_an_object_in_front_hides_them() -> None:
    rng = np.random.default_rng(3)
    skeleton = pose_skeleton(sample_pose(rng), Proportions.sample(rng), 0.0, 0.0)
    figure = build_figure(
        skeleton,
        frame_skeleton(skeleton, np.array([150.0, 160.0]), 260.0, 0.0),
        Outfit.sample(rng),
        Look.shaded(rng),
    )
    canvas = _painted(figure)
    alone = annotate(figure, canvas.owner, 0, "clothed")
    assert alone.visible.sum() >= 10, "a person facing the camera shows most of their joints"
    low, high = figure.joints.min(axis=0) - 5, figure.joints.max(axis=0) + 5
    board = np.array([low, [high[0], low[1]], high, [low[0], high[1]]])
    canvas.paint(
        Part(np.array([low, high]), (1.0, 1.0), np.zeros(3), kind="polygon", polygon=board), DISTRACTOR_OWNER
    )
    hidden = annotate(figure, canvas.owner, 0, "clothed")
    assert hidden.visible.sum() == 0
    np.testing.assert_array_equal(hidden.part, alone.part)
