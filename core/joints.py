"""The 16 MPII joints: names, flip permutation, skeleton and evaluation groups (REFERENCE.md §1)."""

from enum import IntEnum
from typing import Final

import numpy as np


class Joint(IntEnum):
    """MPII's joint order; a member is its index into (..., 16, ...) arrays."""

    R_ANKLE = 0
    R_KNEE = 1
    R_HIP = 2
    L_HIP = 3
    L_KNEE = 4
    L_ANKLE = 5
    PELVIS = 6
    THORAX = 7
    UPPER_NECK = 8
    HEAD_TOP = 9
    R_WRIST = 10
    R_ELBOW = 11
    R_SHOULDER = 12
    L_SHOULDER = 13
    L_ELBOW = 14
    L_WRIST = 15


JOINT_NAMES: Final[tuple[str, ...]] = tuple(joint.name.lower() for joint in Joint)
NUM_JOINTS: Final[int] = len(JOINT_NAMES)

# Index of the mirrored joint: a horizontally flipped image shows joint FLIP_PERMUTATION[j] where j was.
FLIP_PERMUTATION: Final[np.ndarray] = np.array([5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10])
FLIP_PERMUTATION.setflags(write=False)

SKELETON: Final[tuple[tuple[int, int], ...]] = (
    (0, 1),
    (1, 2),
    (2, 6),
    (6, 3),
    (3, 4),
    (4, 5),
    (6, 7),
    (7, 8),
    (8, 9),
    (8, 12),
    (12, 11),
    (11, 10),
    (8, 13),
    (13, 14),
    (14, 15),
)

# Seed-metric groups, in the order the seed's report prints them.
EVAL_GROUPS: Final[dict[str, tuple[int, ...]]] = {
    "ankle": (0, 5),
    "knee": (1, 4),
    "hip": (2, 3),
    "pelvis": (6,),
    "thorax": (7,),
    "neck": (8,),
    "head": (9,),
    "wrist": (10, 15),
    "elbow": (11, 14),
    "shoulder": (12, 13),
}

RIGHT_JOINTS: Final[frozenset[int]] = frozenset(
    j for j, name in enumerate(JOINT_NAMES) if name.startswith("r_")
)
LEFT_JOINTS: Final[frozenset[int]] = frozenset(
    j for j, name in enumerate(JOINT_NAMES) if name.startswith("l_")
)


def joint_side(joint: int) -> str:
    """'right', 'left' or 'center' (for colouring limbs by side)."""
    if joint in RIGHT_JOINTS:
        return "right"
    if joint in LEFT_JOINTS:
        return "left"
    return "center"


def limb_side(limb: tuple[int, int]) -> str:
    """A limb takes the side of its joints; a limb joining the midline and one side takes that side."""
    sides = {joint_side(limb[0]), joint_side(limb[1])} - {"center"}
    return sides.pop() if len(sides) == 1 else "center"
