"""Synthetic people in MPII's layout, so that the whole pipeline can train and evaluate without MPII images.

Each image holds a few articulated figures (16 joints on a kinematic tree with joint-angle limits), drawn
as shaded, textured capsules with body-like widths, over a cluttered background with limb-like distractor
sticks and shapes. Left and right are told apart the way they are in photographs: a figure facing the camera
shows a face (eyes and mouth under a hair cap) and its right side on the image's left; one seen from behind
shows the back of its head. That cue survives flip augmentation (a mirrored face is still a face), where a
side-dependent shade would not: a flipped sample relabels the mirrored left limbs as right. The far side is
drawn darker and under the near side. Annotations follow MPII: 1-based joints, (0, 0) for joints outside the
image, occlusion flags, centre shifted by 15*s, scale x1.25, normalize = 0.6 x head-box diagonal.

    python -m training.synth --out DIR --train N --val M [--seed S] [--image-size MIN MAX]

Every image is a pure function of (seed, split, image index), so the output does not depend on the number
of worker processes. It does depend on the numpy and OpenCV builds: the same command drew other persons on
the lent GPU machine (Python 3.12, numpy 2.5 by its package list) than on the development machine (Python
3.11, numpy 2.4.6, OpenCV 5.0.0).
"""

import argparse
import math
import os
import time
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

from core.geometry import MPII_SCALE_UNIT
from core.joints import NUM_JOINTS
from core.mpii import MpiiAnnotations, write_annotations

SPLITS: dict[str, int] = {"train": 0, "valid": 1}
DEFAULT_IMAGE_SIZE = (320, 448)
MIN_ANNOTATED_JOINTS = 8
EXPECTED_PERSONS_PER_IMAGE = 2.0
FACING_CAMERA_PROBABILITY = 0.8
# MPII's centre lies 15*s below the person's middle and its scale is padded by 1.25
# (docs/reference.md#annotation-format).
CENTER_SHIFT = 15.0
SCALE_PADDING = 1.25
HEAD_BOX_FACTOR = 0.6
BACKGROUND_OWNER = -1
DISTRACTOR_OWNER = -2
PARTS_PER_FIGURE = 64

R_ANKLE, R_KNEE, R_HIP, L_HIP, L_KNEE, L_ANKLE, PELVIS, THORAX = range(8)
NECK, HEAD_TOP, R_WRIST, R_ELBOW, R_SHOULDER, L_SHOULDER, L_ELBOW, L_WRIST = range(8, 16)
LEGS = {"right": (R_HIP, R_KNEE, R_ANKLE), "left": (L_HIP, L_KNEE, L_ANKLE)}
ARMS = {"right": (R_SHOULDER, R_ELBOW, R_WRIST), "left": (L_SHOULDER, L_ELBOW, L_WRIST)}


@dataclass(frozen=True)
class Part:
    """A drawn shape: a tapered capsule along `axis`, an ellipse (`axis` = its long diameter) or a polygon.

    `joints` are the joints that count as visible when this part is on top at their pixel.
    """

    axis: np.ndarray  # (2, 2)
    radii: tuple[float, float]
    color: np.ndarray  # (3,) RGB
    joints: tuple[int, ...] = ()
    kind: str = "capsule"  # capsule | ellipse | polygon
    polygon: np.ndarray | None = None
    textured: bool = True


@dataclass(frozen=True)
class Figure:
    joints: np.ndarray  # (16, 2) 0-based pixels, possibly outside the image
    parts: tuple[Part, ...]  # drawing order: far limbs, torso, head, near limbs
    torso_angle_deg: float
    head_box: np.ndarray  # (x1, y1, x2, y2)
    facing_camera: bool = True
    texture: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))  # frequency, angle, amplitude


@dataclass(frozen=True)
class Entry:
    """One annotated person, in MPII's conventions."""

    part: np.ndarray  # (16, 2) 1-based, (0, 0) when outside the image
    visible: np.ndarray  # (16,)
    center: np.ndarray
    scale: float
    normalize: float
    person: int
    torsoangle: float


def _unit(angle_deg: float) -> np.ndarray:
    angle = math.radians(angle_deg)
    return np.array([math.cos(angle), math.sin(angle)])


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


def _ellipse_box(center: np.ndarray, axes: tuple[float, float], angle_deg: float) -> np.ndarray:
    cos, sin = abs(math.cos(math.radians(angle_deg))), abs(math.sin(math.radians(angle_deg)))
    half = np.array([math.hypot(axes[0] * cos, axes[1] * sin), math.hypot(axes[0] * sin, axes[1] * cos)])
    return np.concatenate([center - half, center + half])


def sample_figure(rng: np.random.Generator, middle: np.ndarray, height: float) -> Figure:
    """A plausible random pose: torso lean, limb swings within joint limits, one-way bends at elbows/knees."""
    torso = height / 3.6
    prop = rng.uniform(0.88, 1.12, size=8)
    rotation = rng.normal(0.0, 12.0) if rng.random() < 0.8 else rng.uniform(-100.0, 100.0)
    torso_angle = rotation + rng.normal(0.0, 8.0)
    up = _unit(torso_angle - 90.0)
    across = _unit(torso_angle)
    # A person facing the camera shows their right side on the image's left (and a face).
    facing_camera = bool(rng.random() < FACING_CAMERA_PROBABILITY)
    right_sign = -1.0 if facing_camera else 1.0
    near = "right" if rng.random() < 0.5 else "left"
    outward_of = {"right": across * right_sign, "left": -across * right_sign}
    width_factor = rng.uniform(0.35, 1.0)

    joints = np.zeros((NUM_JOINTS, 2))
    joints[PELVIS] = middle - up * torso * 0.1
    joints[THORAX] = joints[PELVIS] + up * torso * prop[0]
    neck_dir = _rotate(up, rng.normal(0.0, 10.0))
    joints[NECK] = joints[THORAX] + neck_dir * torso * 0.28
    head_length = torso * 0.55 * prop[1]
    joints[HEAD_TOP] = joints[NECK] + _rotate(neck_dir, rng.normal(0.0, 15.0)) * head_length
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
        joints[hip] = joints[PELVIS] + outward * hip_half
        swing = rng.normal(6.0, 12.0) if rng.random() < 0.7 else rng.uniform(-30.0, 95.0)
        thigh = _swing(-up, outward, swing)
        joints[knee] = joints[hip] + thigh * torso * 0.85 * prop[4] * _foreshortening(rng)
        knee_bend = rng.uniform(0.0, 20.0) if rng.random() < 0.6 else rng.uniform(0.0, 130.0)
        shin = _rotate(thigh, knee_bend * rng.choice([-1.0, 1.0]))
        joints[ankle] = joints[knee] + shin * torso * 0.85 * prop[4] * _foreshortening(rng)
        foot = _rotate(shin, 80.0 * rng.choice([-1.0, 1.0]))

        shoulder, elbow, wrist = ARMS[side]
        joints[shoulder] = joints[THORAX] + outward * shoulder_half - up * torso * 0.05
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
            joints[R_SHOULDER] + up * torso * 0.06,
            joints[L_SHOULDER] + up * torso * 0.06,
            joints[L_HIP] - up * torso * 0.06,
            joints[R_HIP] - up * torso * 0.06,
        ]
    )
    half_width = max(shoulder_half, hip_half) + 0.1 * radius
    head_axes = (head_length / 2, head_length * rng.uniform(0.36, 0.44))
    head_center = (joints[NECK] + joints[HEAD_TOP]) / 2
    head_angle = math.degrees(math.atan2(*(joints[HEAD_TOP] - joints[NECK])[::-1]))
    body = [
        Part(
            joints[[PELVIS, THORAX]],
            (half_width, half_width),
            shirt,
            (R_HIP, L_HIP, PELVIS, THORAX, R_SHOULDER, L_SHOULDER),
            "polygon",
            outline,
        ),
        Part(joints[[THORAX, NECK]], (0.09 * torso, 0.08 * torso), skin, (THORAX, NECK), textured=False),
        *_head_parts(joints[NECK], joints[HEAD_TOP], head_axes, skin, hair, facing_camera),
    ]
    far = "left" if near == "right" else "right"
    amplitude = rng.uniform(10.0, 45.0) if rng.random() < 0.6 else 0.0
    return Figure(
        joints=joints,
        parts=(*limbs[far], *body, *limbs[near]),
        torso_angle_deg=torso_angle,
        head_box=_ellipse_box(head_center, head_axes, head_angle),
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
        return [Part(np.array([neck, top]), axes, hair, (NECK, HEAD_TOP), "ellipse", textured=False)]
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
        Part(np.array([neck, top]), axes, skin, (NECK, HEAD_TOP), "ellipse", textured=False),
        feature(center + along * 0.36 * length, 0.16 * length, axes[1] * 0.95, along, (HEAD_TOP,)),
        feature(center + along * 0.08 * length + across * 0.16 * length, eye_radius, eye_radius, along),
        feature(center + along * 0.08 * length - across * 0.16 * length, eye_radius, eye_radius, along),
        feature(center - along * 0.22 * length, 0.14 * length, 0.05 * length, across),
    ]


class Canvas:
    """An RGB float image plus an owner map saying which figure part (or distractor) is on top where."""

    def __init__(self, background: np.ndarray, light_deg: float) -> None:
        self.image = background.astype(np.float32)
        self.height, self.width = background.shape[:2]
        self.owner = np.full((self.height, self.width), BACKGROUND_OWNER, dtype=np.int32)
        self.light = _unit(light_deg)

    def paint(self, part: Part, owner: int, texture: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        """Fill a part with its colour, cylinder-like shading and stripes; record it in the owner map."""
        extent = max(part.radii)
        corners = part.axis if part.polygon is None else np.vstack([part.axis, part.polygon])
        x0, y0 = np.floor(corners.min(axis=0) - extent).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0) + extent).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        start, end = part.axis.astype(np.float32)
        direction = end - start
        length_sq = max(float(direction @ direction), 1e-6)
        if part.kind == "ellipse":
            center = (start + end) / 2
            along = direction / math.sqrt(length_sq)
            u = ((xs - center[0]) * along[0] + (ys - center[1]) * along[1]) / part.radii[0]
            v = ((xs - center[0]) * -along[1] + (ys - center[1]) * along[0]) / part.radii[1]
            rel_x, rel_y = u * along[0] - v * along[1], u * along[1] + v * along[0]
            mask = u * u + v * v <= 1.0
        else:
            t = np.clip(((xs - start[0]) * direction[0] + (ys - start[1]) * direction[1]) / length_sq, 0, 1)
            radius = part.radii[0] + (part.radii[1] - part.radii[0]) * t
            rel_x = (xs - start[0] - t * direction[0]) / radius
            rel_y = (ys - start[1] - t * direction[1]) / radius
            if part.kind == "polygon":
                mask = np.zeros(xs.shape, dtype=np.uint8)
                cv2.fillPoly(mask, [np.round(part.polygon - [x0, y0]).astype(np.int32)], 1)
                mask = mask.astype(bool)
            else:
                mask = rel_x * rel_x + rel_y * rel_y <= 1.0
        if not mask.any():
            return
        shade = 0.82 + 0.22 * (rel_x * self.light[0] + rel_y * self.light[1]) - 0.18 * (rel_x**2 + rel_y**2)
        color = part.color[None, None, :] * np.clip(shade, 0.3, 1.2)[..., None]
        frequency, angle, amplitude = texture
        if part.textured and amplitude > 0:
            stripes = np.sin(frequency * (xs * math.cos(angle) + ys * math.sin(angle)))
            color = color + (amplitude * stripes)[..., None]
        region = self.image[y0:y1, x0:x1]
        region[mask] = color[mask]
        self.owner[y0:y1, x0:x1][mask] = owner


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Gradient, smooth colour noise or a stripe/checker texture."""
    kind = rng.integers(3)
    if kind == 0:
        ramp = np.linspace(0.0, 1.0, width)[None, :] * rng.uniform(-1, 1)
        ramp = ramp + np.linspace(0.0, 1.0, height)[:, None] * rng.uniform(-1, 1)
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
        a, b = rng.uniform(0, 255, size=(2, 3))
        return a + ramp[..., None] * (b - a)
    if kind == 1:
        cells = int(rng.integers(2, 10))
        small = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(6.0, 40.0)
    angle = rng.uniform(0, math.pi)
    phase = (xs * math.cos(angle) + ys * math.sin(angle)) / period
    pattern = np.sin(2 * math.pi * phase)
    if rng.random() < 0.5:
        pattern = pattern * np.sin(2 * math.pi * (-xs * math.sin(angle) + ys * math.cos(angle)) / period)
    a, b = rng.uniform(0, 255, size=(2, 3))
    return a + (pattern[..., None] > 0) * (b - a)


def _paint_distractors(rng: np.random.Generator, canvas: Canvas, count: int) -> None:
    """Limb-like sticks, blobs and polygons that a model must learn to ignore."""
    size = min(canvas.height, canvas.width)
    for _ in range(count):
        start = rng.uniform([0, 0], [canvas.width, canvas.height])
        color = rng.uniform(0, 255, size=3)
        kind = rng.integers(3)
        if kind == 0:
            end = start + _unit(rng.uniform(0, 360)) * rng.uniform(0.05, 0.3) * size
            radius = rng.uniform(0.01, 0.04) * size
            part = Part(np.array([start, end]), (radius, radius * rng.uniform(0.6, 1.0)), color)
        elif kind == 1:
            end = start + _unit(rng.uniform(0, 360)) * rng.uniform(0.03, 0.15) * size
            part = Part(
                np.array([start, end]),
                (float(np.linalg.norm(end - start)) / 2 + 1, rng.uniform(0.02, 0.08) * size),
                color,
                kind="ellipse",
            )
        else:
            corners = start + rng.uniform(-0.1, 0.1, size=(int(rng.integers(3, 6)), 2)) * size
            polygon = corners[cv2.convexHull(corners.astype(np.float32), returnPoints=False)[:, 0]]
            part = Part(
                np.array([polygon.min(axis=0), polygon.max(axis=0)]),
                (1.0, 1.0),
                color,
                kind="polygon",
                polygon=polygon,
            )
        canvas.paint(part, DISTRACTOR_OWNER, (rng.uniform(0.1, 0.8), rng.uniform(0, math.pi), 25.0))


def _annotate(figure: Figure, owner: np.ndarray, figure_index: int) -> Entry:
    height, width = owner.shape
    joints = figure.joints
    inside = (joints[:, 0] >= 0) & (joints[:, 0] < width) & (joints[:, 1] >= 0) & (joints[:, 1] < height)
    visible = np.zeros(NUM_JOINTS)
    for joint in np.flatnonzero(inside):
        x, y = np.clip(np.round(joints[joint]).astype(int), 0, [width - 1, height - 1])
        top = owner[y, x]
        if top // PARTS_PER_FIGURE == figure_index and joint in figure.parts[top % PARTS_PER_FIGURE].joints:
            visible[joint] = 1
    extent = np.vstack([joints, figure.head_box.reshape(2, 2)])
    low, high = extent.min(axis=0), extent.max(axis=0)
    raw_scale = float(np.max(high - low)) / MPII_SCALE_UNIT
    center = (low + high) / 2 + np.array([0.0, CENTER_SHIFT * raw_scale])
    head_size = figure.head_box[2:] - figure.head_box[:2]
    return Entry(
        part=np.where(inside[:, None], joints + 1.0, 0.0),
        visible=visible,
        center=center + 1.0,
        scale=SCALE_PADDING * raw_scale,
        normalize=HEAD_BOX_FACTOR * float(np.linalg.norm(head_size)),
        person=figure_index,
        torsoangle=figure.torso_angle_deg,
    )


def render_image(
    seed: int, split: str, index: int, size_range: tuple[int, int]
) -> tuple[np.ndarray, list[Entry]]:
    """One RGB uint8 image and its annotated persons; a pure function of its arguments."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    height, width = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
    canvas = Canvas(_background(rng, height, width), rng.uniform(0, 360))
    _paint_distractors(rng, canvas, int(rng.integers(4, 14)))
    count = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1]))
    side = min(height, width)
    figures = []
    for figure_index in range(count):
        middle = rng.uniform([0.1 * width, 0.15 * height], [0.9 * width, 0.85 * height])
        figure_height = rng.uniform(0.4, 0.9) * side if figure_index == 0 else rng.uniform(0.25, 0.9) * side
        figure = sample_figure(rng, middle, figure_height)
        for part_index, part in enumerate(figure.parts):
            canvas.paint(part, figure_index * PARTS_PER_FIGURE + part_index, figure.texture)
        figures.append(figure)
    _paint_distractors(rng, canvas, int(rng.integers(0, 3)))
    noise = rng.standard_normal(size=canvas.image.shape, dtype=np.float32)
    image = canvas.image + noise * np.float32(rng.uniform(0.0, 10.0))
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.2))
    entries = [_annotate(figure, canvas.owner, i) for i, figure in enumerate(figures)]
    entries = [e for e in entries if np.count_nonzero(e.part[:, 0]) >= MIN_ANNOTATED_JOINTS]
    return np.clip(image, 0, 255).astype(np.uint8), entries


def image_name(split: str, index: int) -> str:
    return f"{split}_{index:07d}.jpg"


def _render_task(task: tuple[int, str, int, tuple[int, int]]) -> tuple[bytes, list[Entry]]:
    seed, split, index, size_range = task
    image, entries = render_image(seed, split, index, size_range)
    quality = 80 + (index * 7919 + seed) % 16
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for image {index}")
    return encoded.tobytes(), entries


def generate_split(
    out: Path, split: str, count: int, seed: int, size_range: tuple[int, int], pool: Pool, workers: int
) -> MpiiAnnotations:
    """Render images in order until `count` persons are annotated; write images/ and annot/<split>.h5."""
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    indices: list[int] = []
    entries: list[Entry] = []
    next_index = 0
    while len(entries) < count:
        # Rounds sized by the persons per image seen so far, so little is rendered past `count`.
        per_image = len(entries) / next_index if entries else EXPECTED_PERSONS_PER_IMAGE
        batch = max(math.ceil((count - len(entries)) / per_image * 1.05), 4 * workers)
        tasks = [(seed, split, i, size_range) for i in range(next_index, next_index + batch)]
        for index, (encoded, image_entries) in zip(
            range(next_index, next_index + batch), pool.imap(_render_task, tasks, chunksize=4), strict=True
        ):
            kept = image_entries[: count - len(entries)]
            if kept:
                (images_dir / image_name(split, index)).write_bytes(encoded)
                names.extend([image_name(split, index)] * len(kept))
                indices.extend([index] * len(kept))
                entries.extend(kept)
        next_index += batch
    annotations = MpiiAnnotations(
        imgname=tuple(names),
        center=np.array([e.center for e in entries]).reshape(-1, 2),
        scale=np.array([e.scale for e in entries]),
        part=np.array([e.part for e in entries]).reshape(-1, NUM_JOINTS, 2),
        visible=np.array([e.visible for e in entries]).reshape(-1, NUM_JOINTS),
        normalize=np.array([e.normalize for e in entries]),
        index=np.array(indices, dtype=np.float64),
        person=np.array([e.person for e in entries], dtype=np.float64),
        torsoangle=np.array([e.torsoangle for e in entries]),
    )
    write_annotations(out / "annot" / f"{split}.h5", annotations)
    return annotations


def generate(
    out: Path,
    train: int,
    val: int,
    seed: int = 1,
    size_range: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    workers: int | None = None,
) -> dict[str, MpiiAnnotations]:
    workers = workers or os.cpu_count() or 1
    with Pool(workers) as pool:
        return {
            split: generate_split(Path(out), split, count, seed, size_range, pool, workers)
            for split, count in (("train", train), ("valid", val))
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (gets annot/ and images/)")
    parser.add_argument("--train", type=int, required=True, help="annotated persons in annot/train.h5")
    parser.add_argument("--val", type=int, required=True, help="annotated persons in annot/valid.h5")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=DEFAULT_IMAGE_SIZE,
        metavar=("MIN", "MAX"),
        help="image height and width are drawn from [MIN, MAX] pixels",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    if args.train < 0 or args.val < 0 or not 64 <= args.image_size[0] <= args.image_size[1]:
        parser.error("--train/--val must be >= 0 and 64 <= MIN <= MAX for --image-size")
    started = time.perf_counter()
    result = generate(args.out, args.train, args.val, args.seed, tuple(args.image_size), args.workers)
    images = len({name for split in result.values() for name in split.imgname})
    print(
        f"wrote {len(result['train'])} train and {len(result['valid'])} valid persons on {images} images "
        f"to {args.out} in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
