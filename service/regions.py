"""From the persons a request gives (boxes or MPII centre and scale) to regions, and from regions to crops.

Crops use core.geometry.crop_image on float32 pixels (then x pixel_scale, as the reference divides by 255
after cropping; REFERENCE.md §7).
"""

import math
from dataclasses import dataclass

import numpy as np

from core.geometry import box_to_center_scale, center_scale_to_box, crop_image
from service.errors import ServiceError
from service.schemas import Person

# Bilinear sampling reads one pixel beyond a crop corner; two more keep the region safe from rounding.
_CROP_MARGIN = 2


@dataclass(frozen=True)
class PersonRegion:
    """A person as the caller gave it (box) and as the network crops it (MPII centre and scale)."""

    box: np.ndarray
    center: np.ndarray
    scale: float


def _check_overlaps_image(region: np.ndarray, width: int, height: int, what: str) -> None:
    x1, y1, x2, y2 = region
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise ServiceError(
            422, f"{what} {[round(float(v), 2) for v in region]} is outside the {width}x{height} image"
        )


def region_from_box(box: tuple[float, ...], width: int, height: int) -> PersonRegion:
    """A person box (x1, y1, x2, y2); 422 when it is empty, degenerate or outside the image."""
    try:
        center, scale = box_to_center_scale(np.asarray(box, dtype=np.float64))
    except ValueError as error:
        raise ServiceError(422, f"bad person box: {error}") from error
    _check_overlaps_image(np.asarray(box, dtype=np.float64), width, height, "person box")
    return PersonRegion(box=np.asarray(box, dtype=np.float64), center=center, scale=scale)


def region_from_center(center: tuple[float, float], scale: float, width: int, height: int) -> PersonRegion:
    """An MPII centre and scale (crop side 200*scale); 422 for a scale <= 0 or a crop outside the image."""
    if not (math.isfinite(scale) and scale > 0):
        raise ServiceError(422, f"person scale must be a positive number, got {scale}")
    center_array = np.asarray(center, dtype=np.float64)
    box = center_scale_to_box(center_array, scale)
    _check_overlaps_image(box, width, height, "person crop")
    return PersonRegion(box=box, center=center_array, scale=float(scale))


def region_from_person(person: Person, width: int, height: int) -> PersonRegion:
    if person.box is not None:
        return region_from_box(person.box, width, height)
    if person.center is None or person.scale is None:
        raise ServiceError(422, "a person needs 'box' or both 'center' and 'scale'")
    return region_from_center(person.center, person.scale, width, height)


def crop_person(image: np.ndarray, region: PersonRegion, size: int, pixel_scale: float) -> np.ndarray:
    """The network input for one person: (size, size, 3) float32.

    Only the image part under the crop (plus a margin) is converted to float32; the crop is shifted by a
    whole number of pixels, which leaves crop_image's result unchanged.
    """
    height, width = image.shape[:2]
    x1, y1, x2, y2 = center_scale_to_box(region.center, region.scale)
    left = max(0, math.floor(x1) - _CROP_MARGIN)
    top = max(0, math.floor(y1) - _CROP_MARGIN)
    right = min(width, math.ceil(x2) + _CROP_MARGIN + 1)
    bottom = min(height, math.ceil(y2) + _CROP_MARGIN + 1)
    window = image[top:bottom, left:right].astype(np.float32)
    crop = crop_image(window, region.center - np.array([left, top]), region.scale, size)
    return crop * np.float32(pixel_scale)


def person_groups(crops: np.ndarray, flip: bool) -> list[np.ndarray]:
    """One batcher group per person: its crop, followed by the mirrored crop when flip is on."""
    if not flip:
        return [crops[i : i + 1] for i in range(len(crops))]
    mirrored = crops[:, :, ::-1]
    return [np.stack([crops[i], mirrored[i]]) for i in range(len(crops))]
