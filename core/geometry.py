"""Crop geometry: MPII centre/scale ↔ affine matrices, point transforms, the crop itself, boxes.

Conventions (REFERENCE.md §4): a person is a centre (cx, cy) in pixels and a scale s whose crop side is
200*s pixels. Sizes are (height, width) like the reference's `res`; an int means a square. Pixel centres
sit at integer coordinates, as in OpenCV.
"""

import itertools
import math
from collections.abc import Callable

import cv2
import numpy as np

MPII_SCALE_UNIT = 200.0
# A tight person box is padded by this factor, as MPII's scale is the person height x 1.25.
DEFAULT_BOX_PADDING = 1.25

Size = int | tuple[int, int]
# (left, top, right, bottom) -> that window of an image: (bottom-top, right-left, channels) float32.
WindowReader = Callable[[int, int, int, int], np.ndarray]
# Bilinear sampling reads one pixel past the sampled position; two more keep a window safe from rounding.
_WINDOW_MARGIN = 2


def _hw(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def crop_transform(center: np.ndarray, scale: float, size: Size, rotation_deg: float = 0.0) -> np.ndarray:
    """3x3 matrix mapping original-image pixels into a crop of `size` (the reference's get_transform).

    Positive `rotation_deg` turns the person counter-clockwise in the crop (the reference negates it).
    """
    height, width = _hw(size)
    side = MPII_SCALE_UNIT * float(scale)
    cx, cy = float(center[0]), float(center[1])
    matrix = np.array(
        [
            [width / side, 0.0, width * (-cx / side + 0.5)],
            [0.0, height / side, height * (-cy / side + 0.5)],
            [0.0, 0.0, 1.0],
        ]
    )
    if rotation_deg == 0:
        return matrix
    angle = math.radians(-rotation_deg)
    sin, cos = math.sin(angle), math.cos(angle)
    rotate = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    to_origin = np.array([[1.0, 0.0, -width / 2], [0.0, 1.0, -height / 2], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, width / 2], [0.0, 1.0, height / 2], [0.0, 0.0, 1.0]])
    return back @ rotate @ to_origin @ matrix


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 3x3 (or 2x3) affine matrix to points of shape (..., 2)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.inv(matrix)


def crop_to_image_points(
    points: np.ndarray, centers: np.ndarray, scales: np.ndarray, size: Size
) -> np.ndarray:
    """Map crop coordinates (N, J, 2) of N persons back to original-image coordinates, vectorised.

    The inverse of an un-rotated crop_transform is x = cx + side * (u / width - 0.5).
    """
    height, width = _hw(size)
    points = np.asarray(points, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 1, 2)
    sides = (MPII_SCALE_UNIT * np.asarray(scales, dtype=np.float64)).reshape(-1, 1, 1)
    normalised = points / np.array([width, height]) - 0.5
    return centers + sides * normalised


def reference_crop_matrix(center: np.ndarray, scale: float, size: Size) -> np.ndarray:
    """Crop→image 2x3 matrix that reproduces the reference crop with one warpAffine.

    The reference truncates the crop box corners to int, zero-pads that box and resizes it bilinearly
    (OpenCV half-pixel convention). Sampling that box directly gives the same pixels without allocating
    the padded intermediate, which for a person larger than the image would be huge.
    """
    height, width = _hw(size)
    inverse = invert_affine(crop_transform(center, scale, (height, width)))
    corners = transform_points(np.array([[0.0, 0.0], [width, height]]), inverse)
    upper_left, lower_right = np.trunc(corners)
    step = (lower_right - upper_left) / np.array([width, height])
    offset = upper_left + 0.5 * step - 0.5
    return np.array([[step[0], 0.0, offset[0]], [0.0, step[1], offset[1]]])


def crop_image(
    image: np.ndarray,
    center: np.ndarray,
    scale: float,
    size: Size,
    rotation_deg: float = 0.0,
    border_value: float = 0.0,
) -> np.ndarray:
    """Crop a person with a single warpAffine (bilinear, zero border); output dtype follows the input.

    Without rotation the crop is the reference's, pixel for pixel up to interpolation rounding. A rotation
    turns the crop about its centre, as the reference's augmentation does after cropping.
    """
    height, width = _hw(size)
    crop_to_image = np.vstack([reference_crop_matrix(center, scale, (height, width)), [0.0, 0.0, 1.0]])
    if rotation_deg != 0:
        turn = crop_transform(
            np.array([width / 2, height / 2]), height / MPII_SCALE_UNIT, (height, width), rotation_deg
        )
        crop_to_image = crop_to_image @ invert_affine(turn)
    return _warp(image, crop_to_image[:2], (height, width), border_value)


def _warp(
    image: np.ndarray, crop_to_image: np.ndarray, size: tuple[int, int], border_value: float
) -> np.ndarray:
    height, width = size
    return cv2.warpAffine(
        image,
        crop_to_image,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value,
    )


def _tile_starts(length: int, step: float, max_window_side: float) -> list[int]:
    """Starts of output tiles along one axis whose source windows stay within max_window_side pixels."""
    per_tile = int((max_window_side - 2 * _WINDOW_MARGIN - 2) / step) + 1 if step > 0 else length
    return list(range(0, length, max(1, per_tile)))


def _window_range(first: float, last: float, limit: int) -> tuple[int, int]:
    """Whole-pixel source range [start, stop) that sampling between positions first and last reads."""
    start = max(0, math.floor(first) - _WINDOW_MARGIN)
    stop = min(limit, math.floor(last) + 2 + _WINDOW_MARGIN)
    return start, stop


def crop_image_tiled(
    read_window: WindowReader,
    image_size: tuple[int, int],
    center: np.ndarray,
    scale: float,
    size: int,
    max_window_pixels: int,
    channels: int = 3,
) -> np.ndarray:
    """crop_image's un-rotated crop of a (height, width) image that is read one window at a time.

    The crop is made tile by tile, each from only the window of the image its pixels sample, so shrinking
    a huge image never needs it whole in float32: no window exceeds about max_window_pixels. A window is a
    whole-pixel shift of the image, and a tile a whole-pixel shift of the crop, which leaves every sampled
    value as crop_image computes it (the tests check the two agree).
    """
    image_height, image_width = image_size
    matrix = reference_crop_matrix(center, scale, size)
    (step_x, _, offset_x), (_, step_y, offset_y) = matrix
    side = math.sqrt(max_window_pixels)
    crop = np.zeros((size, size, channels), np.float32)
    rows = [*_tile_starts(size, step_y, side), size]
    columns = [*_tile_starts(size, step_x, side), size]
    for row_start, row_stop in itertools.pairwise(rows):
        first_y, last_y = step_y * row_start + offset_y, step_y * (row_stop - 1) + offset_y
        top, bottom = _window_range(first_y, last_y, image_height)
        for column_start, column_stop in itertools.pairwise(columns):
            left, right = _window_range(
                step_x * column_start + offset_x, step_x * (column_stop - 1) + offset_x, image_width
            )
            if left >= right or top >= bottom:
                continue  # the tile samples only the zero border
            tile_matrix = np.array(
                [
                    [step_x, 0.0, offset_x + step_x * column_start - left],
                    [0.0, step_y, offset_y + step_y * row_start - top],
                ]
            )
            tile_size = (row_stop - row_start, column_stop - column_start)
            window = read_window(left, top, right, bottom)
            crop[row_start:row_stop, column_start:column_stop] = _warp(window, tile_matrix, tile_size, 0.0)
            del window  # before the next window is read, so one window at a time is alive
    return crop


def box_to_center_scale(box: np.ndarray, padding: float = DEFAULT_BOX_PADDING) -> tuple[np.ndarray, float]:
    """Person box (x1, y1, x2, y2) → MPII centre and scale.

    The crop is the square of side max(w, h) * padding around the box centre, so a tight box gets the
    same 25% margin that MPII's scale includes. Raises ValueError for an empty or non-finite box.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"box {[x1, y1, x2, y2]} has non-finite coordinates")
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"box {[x1, y1, x2, y2]} is empty: it needs x2 > x1 and y2 > y1")
    side = max(x2 - x1, y2 - y1) * padding
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2]), side / MPII_SCALE_UNIT


def center_scale_to_box(center: np.ndarray, scale: float) -> np.ndarray:
    """The square region (x1, y1, x2, y2) that a centre/scale crop covers."""
    half = MPII_SCALE_UNIT * float(scale) / 2
    return np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half])
