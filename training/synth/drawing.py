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
OUTLINE_COLOR = np.array([20.0, 18.0, 16.0], dtype=np.float32)


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

    `joints` are the joints that count as visible when this part is on top at their pixel. `shading` scales
    the cylinder-like shading (0: flat colour), `pattern` is a tile of colour factors repeated over the part
    (cloth, skin), and `outline` draws a dark edge of that many pixels (cartoons).
    """

    axis: np.ndarray  # (2, 2)
    radii: tuple[float, float]
    color: np.ndarray  # (3,) RGB
    joints: tuple[int, ...] = ()
    kind: str = "capsule"  # capsule | ellipse | polygon
    polygon: np.ndarray | None = None
    textured: bool = True
    shading: float = 1.0
    pattern: np.ndarray | None = None  # (h, w, 3) float32 factors around 1
    outline: int = 0


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
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]  # broadcast against xs: no full grids
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        start, end = part.axis.astype(np.float32)
        direction = end - start
        length_sq = max(float(direction @ direction), 1e-6)

        def capsule_frame(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Position across the tapered axis, in radii (|rel| <= 1 inside a capsule)."""
            t = np.clip(((px - start[0]) * direction[0] + (py - start[1]) * direction[1]) / length_sq, 0, 1)
            radius = part.radii[0] + (part.radii[1] - part.radii[0]) * t
            return (px - start[0] - t * direction[0]) / radius, (py - start[1] - t * direction[1]) / radius

        if part.kind == "ellipse":
            center = (start + end) / 2
            along = direction / math.sqrt(length_sq)
            u = ((xs - center[0]) * along[0] + (ys - center[1]) * along[1]) / part.radii[0]
            v = ((xs - center[0]) * -along[1] + (ys - center[1]) * along[0]) / part.radii[1]
            mask = u * u + v * v <= 1.0
            u, v = u[mask], v[mask]
            rel_x, rel_y = u * along[0] - v * along[1], u * along[1] + v * along[0]
        elif part.kind == "polygon":
            filled = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
            cv2.fillPoly(filled, [np.round(part.polygon - [x0, y0]).astype(np.int32)], 1)
            mask = filled.astype(bool)
            rows, cols = np.nonzero(mask)
            rel_x, rel_y = capsule_frame(xs[0, cols], ys[rows, 0])
        else:
            rel_x, rel_y = capsule_frame(xs, ys)
            mask = rel_x * rel_x + rel_y * rel_y <= 1.0
            rel_x, rel_y = rel_x[mask], rel_y[mask]
        if not mask.any():
            return
        # From here on, only the part's own pixels (rows, cols inside the box), as flat arrays.
        rows, cols = np.nonzero(mask)
        px, py = xs[0, cols], ys[rows, 0]
        shade = 0.82 + 0.22 * (rel_x * self.light[0] + rel_y * self.light[1]) - 0.18 * (rel_x**2 + rel_y**2)
        if part.shading != 1.0:
            shade = 1.0 + part.shading * (shade - 1.0)
        color = part.color[None, :] * np.clip(shade, 0.3, 1.2)[:, None]
        if part.pattern is not None:
            tile_h, tile_w = part.pattern.shape[:2]
            color = color * part.pattern[py.astype(np.int64) % tile_h, px.astype(np.int64) % tile_w]
        frequency, angle, amplitude = texture
        if part.textured and amplitude > 0:
            stripes = np.sin(frequency * (px * math.cos(angle) + py * math.sin(angle)))
            color = color + (amplitude * stripes)[:, None]
        if part.outline > 0:
            kernel = np.ones((2 * part.outline + 1,) * 2, np.uint8)
            inner = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
            color[inner[rows, cols] == 0] = OUTLINE_COLOR
        self.image[y0 + rows, x0 + cols] = color
        self.owner[y0 + rows, x0 + cols] = owner
