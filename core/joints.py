"""The 16 MPII joints: names, flip permutation, skeleton and evaluation groups (docs/reference.md#joints)."""

from typing import Final

import numpy as np

JOINT_NAMES: Final[tuple[str, ...]] = (
    "r_ankle",
    "r_knee",
    "r_hip",
    "l_hip",
    "l_knee",
    "l_ankle",
    "pelvis",
    "thorax",
    "upper_neck",
    "head_top",
    "r_wrist",
    "r_elbow",
    "r_shoulder",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
)
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
