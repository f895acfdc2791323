"""Things that are not people: limb-like distractors behind and in front of the figures (the first
generator's), and object-like occluders (tables, boxes, poles, railings, bushes) put over a person's body,
so that joints are hidden by objects as in photographs."""

import math

import cv2
import numpy as np

from training.synth.drawing import DISTRACTOR_OWNER, Canvas, Part, unit_vector
from training.synth.textures import pattern_tile

OCCLUDER_KINDS = ("table", "box", "pole", "railing", "bush")


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


def _rectangle(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _polygon_part(polygon: np.ndarray, color: np.ndarray, pattern: np.ndarray | None) -> Part:
    low, high = polygon.min(axis=0), polygon.max(axis=0)
    middle = (low + high) / 2
    half = float(max(high - low)) / 2 + 1
    offset = np.array([0.0, half / 2])
    axis = np.array([middle - offset, middle + offset])
    return Part(axis, (half, half), color, kind="polygon", polygon=polygon, shading=0.3, pattern=pattern)


def occluder_parts(rng: np.random.Generator, box: np.ndarray) -> list[Part]:
    """An object over the person whose joint box (x0, y0, x1, y1) is given, mostly over the lower body."""
    x0, y0, x1, y1 = box
    width, height = max(x1 - x0, 8.0), max(y1 - y0, 8.0)
    kind = OCCLUDER_KINDS[int(rng.integers(len(OCCLUDER_KINDS)))]
    color = rng.uniform(20, 235, size=3)
    pattern = (
        pattern_tile(rng, str(rng.choice(["noise", "stripes", "photo"]))) if rng.random() < 0.5 else None
    )
    top = y0 + height * rng.uniform(0.35, 0.85)
    if kind == "table":
        left, right = x0 - width * rng.uniform(0.2, 0.8), x1 + width * rng.uniform(0.2, 0.8)
        thick = height * rng.uniform(0.04, 0.08)
        leg = width * rng.uniform(0.04, 0.08)
        bottom = y1 + height * 0.2
        return [
            _polygon_part(_rectangle(left, top, right, top + thick), color, pattern),
            _polygon_part(_rectangle(left + leg, top, left + 2 * leg, bottom), color * 0.8, None),
            _polygon_part(_rectangle(right - 2 * leg, top, right - leg, bottom), color * 0.8, None),
        ]
    if kind == "box":
        left = x0 + width * rng.uniform(-0.3, 0.6)
        side = width * rng.uniform(0.4, 1.0)
        return [
            _polygon_part(
                _rectangle(left, top, left + side, top + side * rng.uniform(0.6, 1.4)), color, pattern
            )
        ]
    if kind == "pole":
        x = x0 + width * rng.uniform(0.1, 0.9)
        half = width * rng.uniform(0.04, 0.12)
        return [_polygon_part(_rectangle(x - half, y0 - height, x + half, y1 + height), color, pattern)]
    if kind == "railing":
        left, right = x0 - width, x1 + width
        bar = height * rng.uniform(0.02, 0.05)
        parts = [_polygon_part(_rectangle(left, top, right, top + bar), color, None)]
        spacing = width * rng.uniform(0.15, 0.5)
        for x in np.arange(left, right, spacing):
            parts.append(_polygon_part(_rectangle(x, top, x + bar, y1 + height * 0.2), color, None))
        return parts[:12]
    center = np.array([x0 + width * rng.uniform(0, 1), y1 - height * rng.uniform(0, 0.3)])
    angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    radius = width * rng.uniform(0.3, 0.8) * (1 + 0.25 * np.sin(angles * int(rng.integers(3, 9))))
    outline = center + np.stack([np.cos(angles), np.sin(angles) * 0.7], axis=1) * radius[:, None]
    leaves = np.array([rng.uniform(20, 90), rng.uniform(80, 170), rng.uniform(20, 80)])
    return [_polygon_part(outline, leaves, pattern_tile(rng, "noise"))]


def paint_occluders(
    rng: np.random.Generator, canvas: Canvas, boxes: list[np.ndarray], probability: float
) -> None:
    """With `probability` per person, an object in front of that person."""
    for box in boxes:
        if rng.random() < probability:
            for part in occluder_parts(rng, box):
                canvas.paint(part, DISTRACTOR_OWNER)
