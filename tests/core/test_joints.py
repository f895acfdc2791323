import numpy as np

from core.joints import (
    EVAL_GROUPS,
    FLIP_PERMUTATION,
    JOINT_NAMES,
    NUM_JOINTS,
    SKELETON,
    joint_side,
    limb_side,
)


def test_flip_permutation_swaps_left_and_right_names() -> None:
    for joint, mirrored in enumerate(FLIP_PERMUTATION):
        name, mirrored_name = JOINT_NAMES[joint], JOINT_NAMES[mirrored]
        if name[:2] in ("l_", "r_"):
            assert mirrored_name[2:] == name[2:] and mirrored_name[:2] != name[:2]
        else:
            assert mirrored == joint


def test_flip_permutation_is_an_involution_and_read_only() -> None:
    assert np.array_equal(FLIP_PERMUTATION[FLIP_PERMUTATION], np.arange(NUM_JOINTS))
    assert not FLIP_PERMUTATION.flags.writeable


def test_skeleton_is_a_tree_over_all_joints() -> None:
    assert len(SKELETON) == NUM_JOINTS - 1
    assert {j for limb in SKELETON for j in limb} == set(range(NUM_JOINTS))


def test_eval_groups_partition_the_joints() -> None:
    members = sorted(j for group in EVAL_GROUPS.values() for j in group)
    assert members == list(range(NUM_JOINTS))
    assert list(EVAL_GROUPS)[:3] == ["ankle", "knee", "hip"]


def test_sides() -> None:
    assert joint_side(0) == "right" and joint_side(5) == "left" and joint_side(9) == "center"
    assert limb_side((8, 12)) == "right"
    assert limb_side((13, 14)) == "left"
    assert limb_side((7, 8)) == "center"
