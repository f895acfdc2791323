"""A human-like pose prior: typical activities as correlated joint angles within joint limits, posed in 3-D.

Body frame: x towards the person's left, y up, z forward, lengths in torso lengths (pelvis to thorax = 1).
Camera frame: X to the image's right, Y up, Z towards the camera. A person with yaw 0 faces the camera, so
their left side is on the image's right, as in photographs; yaw 180 shows their back. Depth (Z) decides
what is drawn over what, so self-occlusion, the near side and the facing follow from one pose.
"""

import math
from dataclasses import dataclass

import numpy as np

from core.joints import NUM_JOINTS, Joint

# Activity -> sampling weight. "free" is any pose within the joint limits.
ACTIVITIES: dict[str, float] = {
    "standing": 0.22,
    "walking": 0.2,
    "running": 0.08,
    "sitting": 0.12,
    "arms_raised": 0.1,
    "bending": 0.08,
    "squatting": 0.05,
    "reaching": 0.07,
    "free": 0.08,
}
SIDES = ("right", "left")
ARM_JOINTS = {
    side: tuple(Joint[f"{side[0].upper()}_{name}"] for name in ("SHOULDER", "ELBOW", "WRIST"))
    for side in SIDES
}
LEG_JOINTS = {
    side: tuple(Joint[f"{side[0].upper()}_{name}"] for name in ("HIP", "KNEE", "ANKLE")) for side in SIDES
}
SIDE_SIGN = {"right": -1.0, "left": 1.0}  # along the body's x axis
# Standing height in torso lengths (legs + pelvis to thorax + neck + head), for sizing a figure in pixels.
STANDING_HEIGHT = 3.4


@dataclass(frozen=True)
class Limb:
    """One limb's angles in degrees: forward raise and sideways raise of the upper segment, and the bend
    of the middle joint (elbow: forearm forward; knee: shin backward)."""

    flexion: float
    abduction: float
    bend: float


@dataclass(frozen=True)
class Pose:
    activity: str
    arms: dict[str, Limb]
    legs: dict[str, Limb]
    lean: float  # forward bend of the upper body at the pelvis
    side_lean: float
    twist: float  # upper body about the spine
    neck_tilt: float  # head forward
    neck_turn: float  # head sideways tilt


@dataclass(frozen=True)
class Proportions:
    """Segment lengths and widths in torso lengths."""

    shoulder_half: float
    hip_half: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    neck: float
    head: float
    build: float  # girth factor of every segment

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Proportions":
        jitter = rng.uniform(0.9, 1.1, size=8)
        child = rng.random() < 0.1  # shorter limbs, a larger head
        limb = 0.85 if child else 1.0
        return cls(
            shoulder_half=0.36 * jitter[0],
            hip_half=0.18 * jitter[1],
            upper_arm=0.6 * jitter[2] * limb,
            forearm=0.52 * jitter[3] * limb,
            thigh=0.86 * jitter[4] * limb,
            shin=0.82 * jitter[5] * limb,
            neck=0.22 * jitter[6],
            head=0.5 * jitter[7] * (1.25 if child else 1.0),
            build=float(rng.uniform(0.8, 1.35)),
        )


def _limb(
    rng: np.random.Generator,
    flexion: tuple[float, float],
    abduction: tuple[float, float],
    bend: tuple[float, float],
) -> Limb:
    return Limb(rng.uniform(*flexion), rng.uniform(*abduction), rng.uniform(*bend))


def sample_pose(rng: np.random.Generator) -> Pose:
    """A pose of a randomly chosen activity, with the limbs of an activity moving together."""
    names = list(ACTIVITIES)
    activity = str(rng.choice(names, p=np.array(list(ACTIVITIES.values())) / sum(ACTIVITIES.values())))
    lean, side_lean, twist = rng.normal(0, 4), rng.normal(0, 4), rng.normal(0, 8)
    arms: dict[str, Limb] = {}
    legs: dict[str, Limb] = {}
    if activity in ("walking", "running"):
        amplitude = rng.uniform(15, 35) if activity == "walking" else rng.uniform(35, 70)
        phase = rng.uniform(0, 2 * math.pi)
        for side in SIDES:
            swing = math.sin(phase + (0 if side == "right" else math.pi))
            legs[side] = Limb(
                amplitude * swing, rng.uniform(0, 8), max(0.0, -swing) * amplitude * 1.5 + rng.uniform(0, 15)
            )
            elbow = rng.uniform(5, 40) if activity == "walking" else rng.uniform(70, 110)
            arms[side] = Limb(-amplitude * swing * 0.8, rng.uniform(5, 15), elbow)
        lean = rng.uniform(0, 8) if activity == "walking" else rng.uniform(5, 20)
    elif activity == "sitting":
        lean = rng.uniform(-15, 20)
        for side in SIDES:
            legs[side] = _limb(rng, (65, 100), (0, 25), (60, 110))
            arms[side] = _limb(rng, (0, 60), (0, 25), (20, 100))
    elif activity == "squatting":
        lean = rng.uniform(10, 40)
        for side in SIDES:
            legs[side] = _limb(rng, (90, 125), (10, 35), (110, 150))
            arms[side] = _limb(rng, (20, 80), (0, 30), (10, 90))
    elif activity == "bending":
        lean = rng.uniform(35, 90)
        for side in SIDES:
            legs[side] = _limb(rng, (-5, 10), (0, 12), (0, 25))
            # Hanging arms: forward relative to the bent torso by about the lean.
            arms[side] = _limb(rng, (lean - 25, lean + 15), (0, 20), (0, 50))
    elif activity == "free":
        for side in SIDES:
            legs[side] = _limb(rng, (-30, 110), (0, 60), (0, 140))
            arms[side] = _limb(rng, (-50, 180), (0, 170), (0, 150))
        lean, side_lean = rng.uniform(-20, 60), rng.normal(0, 12)
    else:  # standing, arms_raised, reaching
        for side in SIDES:
            legs[side] = _limb(rng, (-8, 12), (0, 15), (0, 15))
            arms[side] = _limb(rng, (-15, 25), (3, 25), (0, 45))
        raised = list(SIDES) if activity == "arms_raised" and rng.random() < 0.6 else [str(rng.choice(SIDES))]
        if activity != "standing":
            for side in raised:
                if activity == "arms_raised":
                    arms[side] = _limb(rng, (0, 60), (100, 175), (0, 60))
                else:
                    arms[side] = _limb(rng, (40, 120), (0, 60), (0, 90))
        if activity == "standing" and rng.random() < 0.3:  # weight on one leg, hands on hips or folded
            side = str(rng.choice(SIDES))
            legs[side] = _limb(rng, (0, 20), (5, 20), (5, 30))
            arms = {s: _limb(rng, (-10, 60), (20, 50), (90, 140)) for s in SIDES}
    return Pose(activity, arms, legs, lean, side_lean, twist, rng.normal(0, 10), rng.normal(0, 8))


def _rotation(axis: int, angle_deg: float) -> np.ndarray:
    """Right-handed rotation about a coordinate axis (0 = x, 1 = y, 2 = z)."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def _limb_directions(limb: Limb, side_sign: float, bend_towards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions of the upper and lower segment in the frame the limb hangs from."""
    a = math.radians(limb.abduction)
    hanging = np.array([side_sign * math.sin(a), -math.cos(a), 0.0])
    upper = _rotation(0, -limb.flexion) @ hanging
    towards = bend_towards - (bend_towards @ upper) * upper
    if np.linalg.norm(towards) < 1e-6:
        towards = np.array([0.0, 1.0, 0.0]) - upper[1] * upper
    towards /= np.linalg.norm(towards)
    b = math.radians(limb.bend)
    return upper, math.cos(b) * upper + math.sin(b) * towards


@dataclass(frozen=True)
class Skeleton:
    """A posed body in the camera frame: joints (16, 3) and the body's axes, in torso lengths."""

    joints: np.ndarray
    left: np.ndarray  # the body's x axis (upper body) in the camera frame
    up: np.ndarray  # the torso's axis, pelvis to thorax
    forward: np.ndarray  # the chest's normal
    head_forward: np.ndarray
    head_up: np.ndarray
    pelvis_forward: np.ndarray  # the legs' frame (feet point this way)
    proportions: Proportions
    activity: str

    @property
    def facing_camera(self) -> bool:
        return bool(self.head_forward[2] > 0)


def pose_skeleton(pose: Pose, proportions: Proportions, yaw_deg: float, pitch_deg: float) -> Skeleton:
    """The pose's joints turned by `yaw_deg` about the vertical and seen from `pitch_deg` above."""
    p = proportions
    joints = np.zeros((NUM_JOINTS, 3))
    upper_body = _rotation(1, pose.twist) @ _rotation(2, pose.side_lean) @ _rotation(0, pose.lean)
    for side in SIDES:
        sign = SIDE_SIGN[side]
        hip, knee, ankle = LEG_JOINTS[side]
        joints[hip] = [sign * p.hip_half, -0.05, 0.0]
        thigh, shin = _limb_directions(pose.legs[side], sign, np.array([0.0, -0.3, -1.0]))
        joints[knee] = joints[hip] + thigh * p.thigh
        joints[ankle] = joints[knee] + shin * p.shin
        shoulder, elbow, wrist = ARM_JOINTS[side]
        joints[shoulder] = upper_body @ np.array([sign * p.shoulder_half, 0.93, 0.0])
        upper, fore = _limb_directions(pose.arms[side], sign, np.array([0.0, 0.3, 1.0]))
        joints[elbow] = joints[shoulder] + upper_body @ upper * p.upper_arm
        joints[wrist] = joints[elbow] + upper_body @ fore * p.forearm
    joints[Joint.THORAX] = upper_body @ np.array([0.0, 1.0, 0.0])
    head_frame = upper_body @ _rotation(2, pose.neck_turn) @ _rotation(0, pose.neck_tilt)
    joints[Joint.UPPER_NECK] = joints[Joint.THORAX] + upper_body @ np.array([0.0, p.neck, 0.04])
    joints[Joint.HEAD_TOP] = joints[Joint.UPPER_NECK] + head_frame @ np.array([0.0, p.head, 0.0])
    view = _rotation(0, pitch_deg) @ _rotation(1, yaw_deg)
    axes = np.eye(3)
    return Skeleton(
        joints=joints @ view.T,
        left=view @ upper_body @ axes[0],
        up=view @ upper_body @ axes[1],
        forward=view @ upper_body @ axes[2],
        head_forward=view @ head_frame @ axes[2],
        head_up=view @ head_frame @ axes[1],
        pelvis_forward=view @ axes[2],
        proportions=proportions,
        activity=pose.activity,
    )


def sample_yaw(rng: np.random.Generator) -> float:
    """Facing: mostly towards the camera, often from behind or in profile."""
    kind = rng.choice(3, p=[0.5, 0.25, 0.25])
    if kind == 0:
        return float(rng.normal(0, 25))
    if kind == 1:
        return float(180 + rng.normal(0, 25))
    return float(rng.choice([-90.0, 90.0]) + rng.normal(0, 20))


@dataclass(frozen=True)
class Projection:
    """Orthographic camera: torso lengths to pixels, turned by `roll_deg` in the image plane."""

    origin: np.ndarray  # pixel of the camera frame's origin
    pixels_per_unit: float
    roll_deg: float

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        flat = np.stack([points[..., 0], -points[..., 1]], axis=-1) * self.pixels_per_unit
        angle = math.radians(self.roll_deg)
        c, s = math.cos(angle), math.sin(angle)
        return flat @ np.array([[c, s], [-s, c]]) + self.origin

    def vector(self, direction: np.ndarray) -> np.ndarray:
        """A 3-D direction's image direction (not normalised)."""
        return self(direction) - self.origin


def frame_skeleton(skeleton: Skeleton, middle: np.ndarray, height_px: float, roll_deg: float) -> Projection:
    """The projection that centres the skeleton's joints' box on `middle`, at `height_px` standing height."""
    unit = height_px / STANDING_HEIGHT
    centred = Projection(np.zeros(2), unit, roll_deg)(skeleton.joints)
    low, high = centred.min(axis=0), centred.max(axis=0)
    return Projection(np.asarray(middle, dtype=np.float64) - (low + high) / 2, unit, roll_deg)
