"""Volumetric people: a posed 3-D skeleton (training.synth.pose) drawn as a body with human proportions
(a torso outline with shoulders, waist and hips; limbs with tapering, bulging outlines; a head with a face or
the back of the head) wearing clothes (sleeves, trousers, shorts, skirts, dresses, coats, hair, hats, bags).

Every part has a depth, and parts are drawn far to near, so self-occlusion, which side is near and which way
the person faces all follow from one 3-D pose. Left and right are told apart by several cues at once, none of
them a single drawn mark: the face (eyes, nose, mouth) or the back of the head, the nose and feet pointing
the way the person faces, a neckline and coat buttons on the front only, a backpack on the back, and the
depth order of the limbs.
"""

import math
from dataclasses import replace

import cv2
import numpy as np

from core.joints import Joint
from training.synth.drawing import Part
from training.synth.figure import Figure, ellipse_box
from training.synth.pose import ARM_JOINTS, LEG_JOINTS, SIDE_SIGN, SIDES, Projection, Skeleton
from training.synth.wardrobe import Look, Outfit

# Half-widths (torso lengths) at the start and end of each limb segment, and the bulge in its middle.
SEGMENT_WIDTHS = {"thigh": (0.16, 0.105, 0.02), "shin": (0.105, 0.065, 0.025)}
SEGMENT_WIDTHS |= {"upper_arm": (0.095, 0.072, 0.012), "forearm": (0.072, 0.052, 0.012)}
CLOTH_MARGIN = 0.025  # clothes stand off the skin
TORSO_JOINTS = (Joint.R_HIP, Joint.L_HIP, Joint.PELVIS, Joint.THORAX, Joint.R_SHOULDER, Joint.L_SHOULDER)
HEAD_JOINTS = (Joint.UPPER_NECK, Joint.HEAD_TOP)
UP = np.array([0.0, 1.0, 0.0])


def limb_polygon(
    start: np.ndarray, end: np.ndarray, r_start: float, r_end: float, bulge: float
) -> np.ndarray:
    """Outline of a limb from `start` to `end` (pixels): tapering, bulging in the middle, round ends."""
    direction = end - start
    length = float(np.linalg.norm(direction))
    along = direction / length if length > 1e-6 else np.array([0.0, 1.0])
    normal = np.array([-along[1], along[0]])
    t = np.linspace(0.0, 1.0, 7)[:, None]
    width = r_start + (r_end - r_start) * t + bulge * np.sin(math.pi * t)
    centre = start + t * direction
    arc = np.linspace(0.0, math.pi, 7)[:, None]
    end_cap = end + r_end * (np.cos(arc) * normal + np.sin(arc) * along)
    start_cap = start + r_start * (-np.cos(arc) * normal - np.sin(arc) * along)
    return np.vstack([centre + normal * width, end_cap, (centre - normal * width)[::-1], start_cap])


def _ellipse(
    center: np.ndarray,
    direction: np.ndarray,
    along: float,
    across: float,
    color: np.ndarray,
    joints: tuple[int, ...] = (),
) -> Part:
    norm = float(np.linalg.norm(direction))
    unit = direction / norm if norm > 1e-6 else np.array([0.0, -1.0])
    along = max(along, 0.5)
    return Part(
        np.array([center - unit * along, center + unit * along]),
        (along, max(across, 0.5)),
        color,
        joints,
        "ellipse",
    )


def _polygon(points: np.ndarray, color: np.ndarray, joints: tuple[int, ...]) -> Part:
    """The convex hull of `points` as a polygon part (its axis only sizes the shading)."""
    hull = points[cv2.convexHull(points.astype(np.float32), returnPoints=False)[:, 0]]
    low, high = points.min(axis=0), points.max(axis=0)
    middle, half = (low + high) / 2, float(max(high - low)) / 2 + 1
    offset = np.array([0.0, half / 2])
    return Part(np.array([middle - offset, middle + offset]), (half, half), color, joints, "polygon", hull)


class FigureBuilder:
    """Collects (depth, garment, part) for one figure and turns them into a Figure."""

    def __init__(self, skeleton: Skeleton, projection: Projection, outfit: Outfit, look: Look) -> None:
        self.skeleton, self.project, self.outfit, self.look = skeleton, projection, outfit, look
        self.unit = projection.pixels_per_unit
        self.build = skeleton.proportions.build
        self.items: list[tuple[float, str, Part]] = []

    def add(self, depth: float, garment: str, part: Part) -> None:
        self.items.append((float(depth), garment, part))

    def segment(
        self,
        a: np.ndarray,
        b: np.ndarray,
        kind: str,
        garment: str,
        joints: tuple[int, ...],
        margin: float = 0.0,
        until: float = 1.0,
    ) -> None:
        r_start, r_end, bulge = SEGMENT_WIDTHS[kind]
        end3 = a + (b - a) * until
        r_end = r_start + (r_end - r_start) * until
        start2, end2 = self.project(a), self.project(end3)
        scale = self.unit * self.build
        polygon = limb_polygon(
            start2, end2, (r_start + margin) * scale, (r_end + margin) * scale, bulge * scale
        )
        part = Part(
            np.array([start2, end2]),
            ((r_start + margin) * scale, (r_end + margin) * scale),
            self.outfit.colors[garment],
            joints,
            "polygon",
            polygon,
        )
        self.add((a[2] + end3[2]) / 2, garment, part)

    # Torso cross-sections: (height along the spine, half-width, half-depth), in torso lengths.
    def section_points(self, levels: list[tuple[float, float, float]], count: int = 10) -> np.ndarray:
        s = self.skeleton
        pelvis = s.joints[Joint.PELVIS]
        angles = np.linspace(0, 2 * math.pi, count, endpoint=False)
        points = [
            pelvis
            + height * s.up
            + np.outer(np.cos(angles), s.left * a * self.build)
            + np.outer(np.sin(angles), s.forward * b * self.build)
            for height, a, b in levels
        ]
        return self.project(np.vstack(points))

    def torso(self) -> None:
        s, p = self.skeleton, self.skeleton.proportions
        levels = [
            (-0.12, p.hip_half + 0.13, 0.17),
            (0.45, 0.23, 0.15),
            (0.8, p.shoulder_half * 0.8, 0.19),
            (0.98, p.shoulder_half + 0.03, 0.12),
        ]
        # Two convex pieces keep the waist narrower than hips and chest.
        depth = float(s.joints[[Joint.PELVIS, Joint.THORAX], 2].mean())
        top_garment = "top"
        self.add(
            depth,
            top_garment,
            _polygon(self.section_points(levels[:2]), self.outfit.colors[top_garment], TORSO_JOINTS),
        )
        self.add(
            depth,
            top_garment,
            _polygon(self.section_points(levels[1:]), self.outfit.colors[top_garment], TORSO_JOINTS),
        )
        if self.outfit.neckline:
            base = s.joints[Joint.THORAX] + s.forward * 0.14 * self.build
            v = np.array([base + 0.12 * s.left, base - 0.12 * s.left, base - 0.22 * s.up])
            self.add(
                depth + 0.15 * s.forward[2] + 1e-3,
                "skin",
                _polygon(self.project(v), self.outfit.colors["skin"], (Joint.THORAX,)),
            )
        if self.outfit.coat:
            coat = [*levels, (-0.55, p.hip_half + 0.2, 0.2)]
            coat = [(h, a + CLOTH_MARGIN, b + CLOTH_MARGIN) for h, a, b in coat]
            self.add(
                depth + 2e-3,
                "coat",
                _polygon(self.section_points(coat[:2] + coat[4:]), self.outfit.colors["coat"], TORSO_JOINTS),
            )
            self.add(
                depth + 2e-3,
                "coat",
                _polygon(self.section_points(coat[1:4]), self.outfit.colors["coat"], TORSO_JOINTS),
            )
            for height in (0.2, 0.45, 0.7):
                button = s.joints[Joint.PELVIS] + height * s.up + s.forward * 0.19 * self.build
                self.add(
                    button[2],
                    "feature",
                    _ellipse(
                        self.project(button),
                        np.array([1.0, 0.0]),
                        0.025 * self.unit,
                        0.025 * self.unit,
                        self.outfit.colors["feature"],
                    ),
                )

    def arms(self) -> None:
        s, outfit = self.skeleton, self.outfit
        sleeve = "coat" if outfit.coat else "top"
        for side in SIDES:
            shoulder, elbow, wrist = (s.joints[j] for j in ARM_JOINTS[side])
            js, je, jw = ARM_JOINTS[side]
            long_sleeves = outfit.coat or outfit.sleeves == "long"
            self.segment(shoulder, elbow, "upper_arm", sleeve if long_sleeves else "skin", (js, je))
            if outfit.sleeves == "short" and not outfit.coat:
                self.segment(shoulder, elbow, "upper_arm", sleeve, (js, je), CLOTH_MARGIN, until=0.5)
            self.segment(elbow, wrist, "forearm", sleeve if long_sleeves else "skin", (je, jw))
            cap = self.project(shoulder)
            self.add(
                shoulder[2],
                sleeve,
                _ellipse(
                    cap,
                    self.project.vector(s.up),
                    0.12 * self.unit * self.build,
                    0.11 * self.unit * self.build,
                    outfit.colors[sleeve],
                    (js,),
                ),
            )
            fore = wrist - elbow
            hand = wrist + fore / max(float(np.linalg.norm(fore)), 1e-6) * 0.09
            hand2, wrist2 = self.project(hand), self.project(wrist)
            length = max(float(np.linalg.norm(hand2 - wrist2)), 0.055 * self.unit)
            self.add(
                hand[2],
                "skin",
                _ellipse(hand2, hand2 - wrist2, length, 0.055 * self.unit, outfit.colors["skin"], (jw,)),
            )

    def legs(self) -> None:
        s, outfit = self.skeleton, self.outfit
        covered = outfit.bottom == "trousers"
        for side in SIDES:
            hip, knee, ankle = (s.joints[j] for j in LEG_JOINTS[side])
            jh, jk, ja = LEG_JOINTS[side]
            garment = "bottom" if covered else "skin"
            margin = CLOTH_MARGIN if covered else 0.0
            self.segment(hip, knee, "thigh", garment, (jh, jk), margin)
            self.segment(knee, ankle, "shin", garment, (jk, ja), margin)
            if outfit.bottom == "shorts":
                self.segment(hip, knee, "thigh", "bottom", (jh, jk), CLOTH_MARGIN, until=0.5)
            foot_direction = s.pelvis_forward - 0.3 * UP
            foot = ankle + foot_direction / np.linalg.norm(foot_direction) * 0.13
            foot2, ankle2 = self.project(foot), self.project(ankle)
            length = max(float(np.linalg.norm(foot2 - ankle2)) + 0.05 * self.unit, 0.075 * self.unit)
            self.add(
                foot[2],
                "shoes",
                _ellipse(foot2, foot2 - ankle2, length, 0.07 * self.unit, outfit.colors["shoes"], (ja,)),
            )
        if outfit.bottom in ("skirt", "dress"):
            p = s.proportions
            knees = s.joints[[Joint.R_KNEE, Joint.L_KNEE]]
            hips = s.joints[[Joint.R_HIP, Joint.L_HIP]]
            hem = hips + (knees - hips) * outfit.hem
            waist = self.section_points([(0.1, p.hip_half + 0.15, 0.18)])
            angles = np.linspace(0, 2 * math.pi, 8, endpoint=False)
            flare = 0.12 * self.build
            hem_points = np.vstack(
                [
                    point
                    + np.outer(np.cos(angles), s.left * flare)
                    + np.outer(np.sin(angles), s.forward * flare)
                    for point in hem
                ]
            )
            depth = max(float(hips[:, 2].mean()), float(((hips + hem) / 2)[:, 2].max())) + 1e-3
            skirt = np.vstack([waist, self.project(hem_points)])
            self.add(
                depth,
                "bottom",
                _polygon(skirt, outfit.colors["bottom"], (Joint.R_HIP, Joint.L_HIP, Joint.PELVIS)),
            )

    def head(self) -> None:
        s, outfit, p = self.skeleton, self.outfit, self.skeleton.proportions
        neck3, top3 = s.joints[Joint.UPPER_NECK], s.joints[Joint.HEAD_TOP]
        thorax3 = s.joints[Joint.THORAX]
        r_along, r_across = p.head / 2, p.head / 2 * 0.78
        self.segment_neck(thorax3, neck3)
        center3 = (neck3 + top3) / 2
        center2 = self.project(center3)
        axis2 = self.project(top3) - self.project(neck3)
        along_px = max(float(np.linalg.norm(axis2)) / 2, r_across * self.unit * 0.95)
        head = _ellipse(center2, axis2, along_px, r_across * self.unit, outfit.colors["skin"], HEAD_JOINTS)
        self.add(center3[2], "skin", head)
        self.head_box = ellipse_box(
            center2, (along_px, r_across * self.unit), math.degrees(math.atan2(axis2[1], axis2[0]))
        )
        forward, up = s.head_forward, s.head_up
        left = np.cross(up, forward)
        if outfit.hair_style != "bald":
            hair3 = center3 - 0.3 * r_across * forward + 0.18 * r_along * up
            hair = _ellipse(
                self.project(hair3),
                axis2,
                along_px * 0.9,
                r_across * self.unit * 1.04,
                outfit.colors["hair"],
                HEAD_JOINTS,
            )
            self.add(hair3[2], "hair", hair)
        if outfit.hair_style == "long":
            long3 = neck3 - 0.15 * s.up - 0.35 * r_across * forward
            self.add(
                long3[2],
                "hair",
                _ellipse(
                    self.project(long3),
                    self.project.vector(s.up),
                    0.42 * self.unit,
                    r_across * self.unit * 1.1,
                    outfit.colors["hair"],
                ),
            )
        elif outfit.hair_style == "bun":
            bun3 = center3 - 0.9 * r_across * forward + 0.5 * r_along * up
            self.add(
                bun3[2],
                "hair",
                _ellipse(
                    self.project(bun3),
                    axis2,
                    0.35 * r_across * self.unit,
                    0.35 * r_across * self.unit,
                    outfit.colors["hair"],
                ),
            )
        if outfit.hat:
            hat3 = center3 + 0.55 * r_along * up
            self.add(
                center3[2] + 1e-3 + abs(forward[2]) * r_across,
                "hat",
                _ellipse(
                    self.project(hat3),
                    axis2,
                    0.45 * r_along * self.unit,
                    r_across * self.unit * 1.1,
                    outfit.colors["hat"],
                    (Joint.HEAD_TOP,),
                ),
            )
        if self.look.silhouette is not None:
            features = [
                (center3 + r_across * 1.08 * forward - 0.1 * r_along * up, 0.14)
            ]  # the nose's profile
        else:
            features = [
                (center3 + 0.1 * r_along * up + r_across * 0.95 * (0.42 * left + 0.9 * forward), 0.12),
                (center3 + 0.1 * r_along * up + r_across * 0.95 * (-0.42 * left + 0.9 * forward), 0.12),
                (center3 - 0.1 * r_along * up + r_across * 1.08 * forward, 0.14),
                (center3 - 0.5 * r_along * up + r_across * 0.85 * forward, 0.1),
            ]
        for position, size in features:
            self.add(
                position[2],
                "feature",
                _ellipse(
                    self.project(position),
                    axis2,
                    size * r_across * self.unit,
                    size * r_across * self.unit * 0.8,
                    outfit.colors["feature"],
                ),
            )

    def segment_neck(self, thorax: np.ndarray, neck: np.ndarray) -> None:
        a, b = self.project(thorax), self.project(neck)
        width = 0.1 * self.unit * self.build
        self.add(
            (thorax[2] + neck[2]) / 2 - 1e-3,
            "skin",
            Part(
                np.array([a, b]),
                (width, width * 0.9),
                self.outfit.colors["skin"],
                (Joint.THORAX, Joint.UPPER_NECK),
            ),
        )

    def bag(self) -> None:
        s, outfit = self.skeleton, self.outfit
        if outfit.bag == "backpack":
            center = s.joints[Joint.PELVIS] + 0.6 * s.up - 0.3 * s.forward * self.build
            corners = np.array(
                [
                    center + a * 0.24 * s.left + b * 0.32 * s.up + c * 0.1 * s.forward
                    for a in (-1, 1)
                    for b in (-1, 1)
                    for c in (-1, 1)
                ]
            )
            self.add(center[2], "bag", _polygon(self.project(corners), outfit.colors["bag"], ()))
        elif outfit.bag == "shoulder":
            side = outfit.bag_side
            shoulder = s.joints[ARM_JOINTS[side][0]]
            hip = s.joints[LEG_JOINTS["left" if side == "right" else "right"][0]]
            center = hip + SIDE_SIGN[side] * -0.18 * s.left + 0.05 * s.up + 0.12 * s.forward
            strap_start, strap_end = shoulder + 0.15 * s.forward, center
            width = 0.02 * self.unit
            self.add(
                (strap_start[2] + strap_end[2]) / 2 + 0.2 * abs(s.forward[2]) * np.sign(s.forward[2]),
                "bag",
                Part(
                    self.project(np.array([strap_start, strap_end])),
                    (width, width),
                    outfit.colors["bag"] * 0.7,
                ),
            )
            corners = np.array(
                [
                    center + a * 0.16 * s.left + b * 0.14 * s.up + c * 0.06 * s.forward
                    for a in (-1, 1)
                    for b in (-1, 1)
                    for c in (-1, 1)
                ]
            )
            self.add(center[2], "bag", _polygon(self.project(corners), outfit.colors["bag"], ()))

    def figure(self) -> Figure:
        """The parts far to near, painted in the family's look."""
        look = self.look
        ordered = sorted(range(len(self.items)), key=lambda i: self.items[i][0])
        parts = []
        for i in ordered:
            _, garment, part = self.items[i]
            if look.silhouette is not None:
                part = replace(part, color=look.silhouette * (0.6 if garment == "feature" else 1.0))
            parts.append(
                replace(
                    part,
                    shading=look.shading,
                    outline=look.outline,
                    pattern=look.patterns.get(garment),
                    textured=False,
                )
            )
        joints2 = self.project(self.skeleton.joints)
        spine = joints2[Joint.THORAX] - joints2[Joint.PELVIS]
        return Figure(
            joints=joints2,
            parts=tuple(parts),
            torso_angle_deg=math.degrees(math.atan2(spine[1], spine[0])) + 90.0,
            head_box=self.head_box,
            facing_camera=self.skeleton.facing_camera,
        )


def build_figure(skeleton: Skeleton, projection: Projection, outfit: Outfit, look: Look) -> Figure:
    builder = FigureBuilder(skeleton, projection, outfit, look)
    builder.torso()
    builder.arms()
    builder.legs()
    builder.head()
    builder.bag()
    return builder.figure()
