"""The synthetic generator writes a valid, deterministic MPII-layout set whose annotations fit its figures."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.geometry import MPII_SCALE_UNIT
from core.joints import FLIP_PERMUTATION, JOINT_NAMES
from core.mpii import MpiiAnnotations, read_annotations
from training.synth import MIN_ANNOTATED_JOINTS, Figure, generate, main, sample_figure

HEAD_TOP, NECK = JOINT_NAMES.index("head_top"), JOINT_NAMES.index("upper_neck")
R_SHOULDER, L_SHOULDER = JOINT_NAMES.index("r_shoulder"), JOINT_NAMES.index("l_shoulder")


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    main(["--out", str(out), "--train", "40", "--val", "12", "--seed", "3", "--workers", "2"])
    return out


@pytest.fixture(scope="module")
def train_set(synth_dir: Path) -> MpiiAnnotations:
    return read_annotations(synth_dir / "annot" / "train.h5")


def test_writes_both_splits_with_requested_counts_and_images(
    synth_dir: Path, train_set: MpiiAnnotations
) -> None:
    valid = read_annotations(synth_dir / "annot" / "valid.h5")
    assert len(train_set) == 40
    assert len(valid) == 12
    assert not set(train_set.imgname) & set(valid.imgname)
    referenced = set(train_set.imgname) | set(valid.imgname)
    assert {p.name for p in (synth_dir / "images").iterdir()} == referenced


def test_joints_are_mpii_one_based_inside_their_image_or_zero(
    synth_dir: Path, train_set: MpiiAnnotations
) -> None:
    for i, name in enumerate(train_set.imgname):
        height, width = cv2.imread(str(synth_dir / "images" / name)).shape[:2]
        part, annotated = train_set.part[i], train_set.annotated[i]
        assert annotated.sum() >= MIN_ANNOTATED_JOINTS
        assert np.all(part[~annotated] == 0)
        assert np.all((part[annotated] >= 1) & (part[annotated] <= [width, height]))
        assert np.all(train_set.visible[i][~annotated] == 0)


def test_centre_and_scale_frame_the_person_like_mpii(train_set: MpiiAnnotations) -> None:
    for i in range(len(train_set)):
        half_side = MPII_SCALE_UNIT * train_set.scale[i] / 2
        joints = train_set.part[i][train_set.annotated[i]]
        assert np.all(np.abs(joints - train_set.center[i]) <= half_side)
        # The person spans at least the unpadded scale (MPII pads by 1.25).
        assert np.ptp(joints, axis=0).max() <= 2 * half_side / 1.25 + 1e-6


def test_normalize_is_a_head_box_measure(train_set: MpiiAnnotations) -> None:
    both = train_set.annotated[:, HEAD_TOP] & train_set.annotated[:, NECK]
    head_length = np.linalg.norm(train_set.part[both, HEAD_TOP] - train_set.part[both, NECK], axis=-1)
    # 0.6 x the head box diagonal: the box holds the head, whose long axis runs neck -> head top.
    assert np.all(train_set.normalize[both] >= 0.6 * head_length - 1e-6)
    assert np.all(train_set.normalize[both] <= 0.6 * 2 * head_length)


def test_set_has_occluded_and_truncated_joints(train_set: MpiiAnnotations) -> None:
    annotated = train_set.annotated
    assert np.any(annotated & (train_set.visible == 0)), "no self-occlusion in 40 persons"
    assert np.any(~annotated), "no joint truncated at an image border in 40 persons"
    assert np.any(train_set.person > 0), "no image with more than one person"


def test_same_seed_same_output_whatever_the_workers(tmp_path: Path, synth_dir: Path) -> None:
    again = generate(tmp_path / "again", train=40, val=12, seed=3, workers=1)
    first = read_annotations(synth_dir / "annot" / "train.h5")
    assert again["train"].imgname == first.imgname
    np.testing.assert_array_equal(again["train"].part, first.part)
    np.testing.assert_array_equal(again["train"].visible, first.visible)
    name = first.imgname[0]
    assert (tmp_path / "again" / "images" / name).read_bytes() == (synth_dir / "images" / name).read_bytes()
    other = generate(tmp_path / "other", train=40, val=0, seed=4, workers=1)
    assert not np.array_equal(other["train"].part, first.part)


def _figures(count: int) -> list[Figure]:
    rng = np.random.default_rng(0)
    return [sample_figure(rng, np.array([200.0, 200.0]), 300.0) for _ in range(count)]


def test_facing_the_camera_puts_the_right_side_on_the_left_and_shows_a_face() -> None:
    """The left/right cue is the person's facing, which a mirrored image keeps (a mirrored face is a face)."""
    figures = _figures(60)
    assert 0 < sum(f.facing_camera for f in figures) < len(figures)
    for figure in figures:
        across = np.array(
            [np.cos(np.radians(figure.torso_angle_deg)), np.sin(np.radians(figure.torso_angle_deg))]
        )
        right_on_image_left = (figure.joints[R_SHOULDER] - figure.joints[L_SHOULDER]) @ across < 0
        face_features = [p for p in figure.parts if p.kind == "ellipse" and not set(p.joints) - {HEAD_TOP}]
        assert right_on_image_left == figure.facing_camera
        assert len(face_features) == (4 if figure.facing_camera else 0)


def test_shading_depends_on_depth_not_on_side() -> None:
    """A side-dependent shade would flip its meaning under flip augmentation: the far side is darker."""
    sided = {j for j, name in enumerate(JOINT_NAMES) if name.startswith(("l_", "r_"))}
    near_sides = set()
    for figure in _figures(30):
        limbs = [(i, p) for i, p in enumerate(figure.parts) if len(p.joints) == 2 and set(p.joints) <= sided]
        assert len(limbs) == 8
        order = {p.joints: i for i, p in limbs}
        color = {p.joints: p.color for _, p in limbs}
        for joints in color:
            mirrored = tuple(int(FLIP_PERMUTATION[j]) for j in joints)
            far, near = sorted((joints, mirrored), key=lambda j: color[j].mean())
            np.testing.assert_allclose(color[far], 0.6 * color[near])
            assert order[far] < order[near]
            near_sides.add(JOINT_NAMES[near[0]][:2])
    assert near_sides == {"l_", "r_"}
