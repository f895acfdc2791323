"""Rasterising: shaded, textured shapes on an RGB canvas that remembers which shape is on top where.

A figure's part `p` of figure `f` owns its pixels as `f * PARTS_PER_FIGURE + p`; background and distractor
pixels have negative owners, so annotation can tell which joints are visible.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUND_OWNER = -1
DISTRACTOR_OWNER = -2
PARTS_PER_FIGURE = 64


def part_owner(figure_index: int, part_index: int) -> int:
    """The owner-map value of a figure's part."""
    return figure_index * PARTS_PER_FIGURE + part_index


def owning_part(owner: int) -> tuple[int, int]:
    """(figure index, part index) of an owner-map value; a negative figure index for non-figure pixels."""
    figure_index, part_index = divmod(int(owner), PARTS_PER_FIGURE)
    return figure_index, part_index


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


def unit_vector(angle_deg: float) -> np.ndarray:
    angle = math.radians(angle_deg)
    return np.array([math.cos(angle), math.sin(angle)])


class Canvas:
    """An RGB float image plus an owner map saying which figure part (or distractor) is on top where."""

    def __init__(self, background: np.ndarray, light_deg: float) -> None:
        self.image = background.astype(np.float32)
        self.height, self.width = background.shape[:2]
        self.owner = np.full((self.height, self.width), BACKGROUND_OWNER, dtype=np.int32)
        self.light = unit_vector(light_deg)

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


def draw_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
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


def paint_distractors(rng: np.random.Generator, canvas: Canvas, count: int) -> None:
    """Limb-like sticks, blobs and polygons that a model must learn to ignore."""
    size = min(canvas.height, canvas.width)
    for _ in range(count):
        start = rng.uniform([0, 0], [canvas.width, canvas.height])
        color = rng.uniform(0, 255, size=3)
        kind = rng.integers(3)
        if kind == 0:
            end = start + unit_vector(rng.uniform(0, 360)) * rng.uniform(0.05, 0.3) * size
            radius = rng.uniform(0.01, 0.04) * size
            part = Part(np.array([start, end]), (radius, radius * rng.uniform(0.6, 1.0)), color)
        elif kind == 1:
            end = start + unit_vector(rng.uniform(0, 360)) * rng.uniform(0.03, 0.15) * size
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
