"""Random articulated figures: a plausible pose on MPII's 16 joints and the parts that draw it.

Left and right are told apart the way they are in photographs: a figure facing the camera shows a face and
its right side on the image's left; one seen from behind shows the back of its head. That cue survives flip
augmentation (a mirrored face is still a face), where a side-dependent shade would not. The far side is
drawn darker and under the near side.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from core.joints import NUM_JOINTS, Joint
from training.synth.drawing import Part, unit_vector

FACING_CAMERA_PROBABILITY = 0.8
LEGS = {
    "right": (Joint.R_HIP, Joint.R_KNEE, Joint.R_ANKLE),
    "left": (Joint.L_HIP, Joint.L_KNEE, Joint.L_ANKLE),
}
ARMS = {
    "right": (Joint.R_SHOULDER, Joint.R_ELBOW, Joint.R_WRIST),
    "left": (Joint.L_SHOULDER, Joint.L_ELBOW, Joint.L_WRIST),
}


@dataclass(frozen=True)
class Figure:
    joints: np.ndarray  # (16, 2) 0-based pixels, possibly outside the image
    parts: tuple[Part, ...]  # drawing order: far limbs, torso, head, near limbs
    torso_angle_deg: float
    head_box: np.ndarray  # (x1, y1, x2, y2)
    facing_camera: bool = True
    texture: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))  # frequency, angle, amplitude


def _rotate(vector: np.ndarray, angle_deg: float) -> np.ndarray:
    angle = math.radians(angle_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([cos * vector[0] - sin * vector[1], sin * vector[0] + cos * vector[1]])


def _swing(down: np.ndarray, outward: np.ndarray, angle_deg: float) -> np.ndarray:
    """Direction of a limb swung `angle_deg` away from hanging down, towards its own side."""
    angle = math.radians(angle_deg)
    return math.cos(angle) * down + math.sin(angle) * outward


def _depth_shade(color: np.ndarray, near: bool) -> np.ndarray:
    """The far side is in the body's shadow: the same for left and right, so a flip keeps it true."""
    return color if near else color * 0.6


def _foreshortening(rng: np.random.Generator) -> float:
    """Length factor of a limb seen partly end-on."""
    return 1.0 if rng.random() < 0.75 else rng.uniform(0.55, 1.0)


def ellipse_box(center: np.ndarray, axes: tuple[float, float], angle_deg: float) -> np.ndarray:
    cos, sin = abs(math.cos(math.radians(angle_deg))), abs(math.sin(math.radians(angle_deg)))
    half = np.array([math.hypot(axes[0] * cos, axes[1] * sin), math.hypot(axes[0] * sin, axes[1] * cos)])
    return np.concatenate([center - half, center + half])


def sample_figure(rng: np.random.Generator, middle: np.ndarray, height: float) -> Figure:
    """A plausible random pose: torso lean, limb swings within joint limits, one-way bends at elbows/knees."""
    torso = height / 3.6
    prop = rng.uniform(0.88, 1.12, size=8)
    rotation = rng.normal(0.0, 12.0) if rng.random() < 0.8 else rng.uniform(-100.0, 100.0)
    torso_angle = rotation + rng.normal(0.0, 8.0)
    up = unit_vector(torso_angle - 90.0)
    across = unit_vector(torso_angle)
    # A person facing the camera shows their right side on the image's left (and a face).
    facing_camera = bool(rng.random() < FACING_CAMERA_PROBABILITY)
    right_sign = -1.0 if facing_camera else 1.0
    near = "right" if rng.random() < 0.5 else "left"
    outward_of = {"right": across * right_sign, "left": -across * right_sign}
    width_factor = rng.uniform(0.35, 1.0)

    joints = np.zeros((NUM_JOINTS, 2))
    joints[Joint.PELVIS] = middle - up * torso * 0.1
    joints[Joint.THORAX] = joints[Joint.PELVIS] + up * torso * prop[0]
    neck_dir = _rotate(up, rng.normal(0.0, 10.0))
    joints[Joint.UPPER_NECK] = joints[Joint.THORAX] + neck_dir * torso * 0.28
    head_length = torso * 0.55 * prop[1]
    joints[Joint.HEAD_TOP] = joints[Joint.UPPER_NECK] + _rotate(neck_dir, rng.normal(0.0, 15.0)) * head_length
    hip_half = torso * 0.27 * width_factor * prop[2]
    shoulder_half = torso * 0.40 * width_factor * prop[3]
    radius = torso * prop[7]

    skin = rng.uniform(110, 240, size=3)
    hair = rng.uniform(10, 80, size=3)
    shirt, pants = (rng.uniform(30, 230, size=3) for _ in range(2))
    sleeves = shirt if rng.random() < 0.5 else skin
    limbs: dict[str, list[Part]] = {}
    for side, outward in outward_of.items():
        hip, knee, ankle = LEGS[side]
        joints[hip] = joints[Joint.PELVIS] + outward * hip_half
        swing = rng.normal(6.0, 12.0) if rng.random() < 0.7 else rng.uniform(-30.0, 95.0)
        thigh = _swing(-up, outward, swing)
        joints[knee] = joints[hip] + thigh * torso * 0.85 * prop[4] * _foreshortening(rng)
        knee_bend = rng.uniform(0.0, 20.0) if rng.random() < 0.6 else rng.uniform(0.0, 130.0)
        shin = _rotate(thigh, knee_bend * rng.choice([-1.0, 1.0]))
        joints[ankle] = joints[knee] + shin * torso * 0.85 * prop[4] * _foreshortening(rng)
        foot = _rotate(shin, 80.0 * rng.choice([-1.0, 1.0]))

        shoulder, elbow, wrist = ARMS[side]
        joints[shoulder] = joints[Joint.THORAX] + outward * shoulder_half - up * torso * 0.05
        raise_angle = rng.normal(15.0, 15.0) if rng.random() < 0.5 else rng.uniform(-30.0, 170.0)
        upper = _swing(-up, outward, raise_angle)
        joints[elbow] = joints[shoulder] + upper * torso * 0.6 * prop[5] * _foreshortening(rng)
        elbow_bend = rng.uniform(0.0, 20.0) if rng.random() < 0.4 else rng.uniform(0.0, 145.0)
        fore = _rotate(upper, elbow_bend * rng.choice([-1.0, 1.0]))
        joints[wrist] = joints[elbow] + fore * torso * 0.55 * prop[6] * _foreshortening(rng)

        is_near = side == near
        leg, arm = _depth_shade(pants, is_near), _depth_shade(sleeves, is_near)
        hand, shoe = _depth_shade(skin, is_near), _depth_shade(pants * 0.5, is_near)
        limbs[side] = [
            Part(joints[[hip, knee]], (0.17 * radius, 0.12 * radius), leg, (hip, knee)),
            Part(joints[[knee, ankle]], (0.12 * radius, 0.08 * radius), leg, (knee, ankle)),
            Part(
                np.array([joints[ankle], joints[ankle] + foot * 0.25 * radius]),
                (0.07 * radius,) * 2,
                shoe,
                (ankle,),
                textured=False,
            ),
            Part(joints[[shoulder, elbow]], (0.12 * radius, 0.10 * radius), arm, (shoulder, elbow)),
            Part(joints[[elbow, wrist]], (0.10 * radius, 0.08 * radius), arm, (elbow, wrist)),
            Part(
                np.array([joints[wrist], joints[wrist] + fore * 0.16 * radius]),
                (0.07 * radius,) * 2,
                hand,
                (wrist,),
                textured=False,
            ),
        ]

    outline = np.array(
        [
            joints[Joint.R_SHOULDER] + up * torso * 0.06,
            joints[Joint.L_SHOULDER] + up * torso * 0.06,
            joints[Joint.L_HIP] - up * torso * 0.06,
            joints[Joint.R_HIP] - up * torso * 0.06,
        ]
    )
    half_width = max(shoulder_half, hip_half) + 0.1 * radius
    head_axes = (head_length / 2, head_length * rng.uniform(0.36, 0.44))
    head_center = (joints[Joint.UPPER_NECK] + joints[Joint.HEAD_TOP]) / 2
    head_angle = math.degrees(math.atan2(*(joints[Joint.HEAD_TOP] - joints[Joint.UPPER_NECK])[::-1]))
    body = [
        Part(
            joints[[Joint.PELVIS, Joint.THORAX]],
            (half_width, half_width),
            shirt,
            (Joint.R_HIP, Joint.L_HIP, Joint.PELVIS, Joint.THORAX, Joint.R_SHOULDER, Joint.L_SHOULDER),
            "polygon",
            outline,
        ),
        Part(
            joints[[Joint.THORAX, Joint.UPPER_NECK]],
            (0.09 * torso, 0.08 * torso),
            skin,
            (Joint.THORAX, Joint.UPPER_NECK),
            textured=False,
        ),
        *_head_parts(joints[Joint.UPPER_NECK], joints[Joint.HEAD_TOP], head_axes, skin, hair, facing_camera),
    ]
    far = "left" if near == "right" else "right"
    amplitude = rng.uniform(10.0, 45.0) if rng.random() < 0.6 else 0.0
    return Figure(
        joints=joints,
        parts=(*limbs[far], *body, *limbs[near]),
        torso_angle_deg=torso_angle,
        head_box=ellipse_box(head_center, head_axes, head_angle),
        facing_camera=facing_camera,
        texture=(rng.uniform(0.15, 0.8), rng.uniform(0.0, math.pi), amplitude),
    )


def _head_parts(
    neck: np.ndarray,
    top: np.ndarray,
    axes: tuple[float, float],
    skin: np.ndarray,
    hair: np.ndarray,
    facing_camera: bool,
) -> list[Part]:
    """A face (skin, hair cap, eyes, mouth) towards the camera, or the back of the head (all hair)."""
    if not facing_camera:
        return [
            Part(
                np.array([neck, top]),
                axes,
                hair,
                (Joint.UPPER_NECK, Joint.HEAD_TOP),
                "ellipse",
                textured=False,
            )
        ]
    length = float(np.linalg.norm(top - neck))
    along = (top - neck) / max(length, 1e-6)
    across = np.array([-along[1], along[0]])
    center = (neck + top) / 2

    def feature(
        at: np.ndarray,
        half_length: float,
        half_width: float,
        direction: np.ndarray,
        joints: tuple[int, ...] = (),
    ) -> Part:
        axis = np.array([at - direction * half_length, at + direction * half_length])
        return Part(axis, (half_length, half_width), hair, joints, "ellipse", textured=False)

    eye_radius = 0.09 * length
    return [
        Part(
            np.array([neck, top]), axes, skin, (Joint.UPPER_NECK, Joint.HEAD_TOP), "ellipse", textured=False
        ),
        feature(center + along * 0.36 * length, 0.16 * length, axes[1] * 0.95, along, (Joint.HEAD_TOP,)),
        feature(center + along * 0.08 * length + across * 0.16 * length, eye_radius, eye_radius, along),
        feature(center + along * 0.08 * length - across * 0.16 * length, eye_radius, eye_radius, along),
        feature(center - along * 0.22 * length, 0.14 * length, 0.05 * length, across),
    ]
