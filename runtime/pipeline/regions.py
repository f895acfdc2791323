"""From the persons a request gives (boxes or MPII centre and scale) to regions, and from regions to crops.

Crops are core.geometry.crop_image's on float32 pixels (then x pixel_scale, as the reference divides by
255 after cropping; docs/reference.md#decoding), made tile by tile from bounded windows of the decoded
image.
"""

import math
from dataclasses import dataclass

import numpy as np

from core.codec import FLIP_PAIR_CROPS
from core.geometry import MPII_SCALE_UNIT, box_to_center_scale, center_scale_to_box, crop_image_tiled
from runtime.errors import InvalidInputError
from runtime.pipeline.images import DecodedImage

# A crop side over this many times the image's longer side would shrink the image to a dot.
MAX_CROP_TO_IMAGE_RATIO = 100
# The smallest person, in image pixels: each side of a box, and the crop side (200 x scale) of a centre and
# scale. Below a pixel there is nothing to crop (a box 1e-9 wide, a scale of 1e-300 are refused).
MIN_PERSON_SIDE_PX = 1.0
# Most image pixels converted to float32 at once per crop (12 MiB as float32 RGB).
CROP_WINDOW_PIXELS = 1 << 20


@dataclass(frozen=True)
class PersonSpec:
    """Where a caller says a person is: a box (x1, y1, x2, y2), or an MPII centre and scale."""

    box: tuple[float, float, float, float] | None = None
    center: tuple[float, float] | None = None
    scale: float | None = None


def person_form_problem(box: object | None, center: object | None, scale: object | None) -> str | None:
    """Why these fields do not describe a person (give a box, or a centre and a scale), or None."""
    if box is not None and (center is not None or scale is not None):
        return "give either 'box' or 'center' and 'scale', not both"
    if box is None and (center is None or scale is None):
        return "a person needs 'box' [x1, y1, x2, y2] or both 'center' [cx, cy] and 'scale'"
    return None


@dataclass(frozen=True)
class PersonRegion:
    """A person as the caller gave it or the detector found it (box, and the detector's `score`), and as
    the network crops it (MPII centre and scale)."""

    box: np.ndarray
    center: np.ndarray
    scale: float
    score: float | None = None


def _check_overlaps_image(region: np.ndarray, width: int, height: int, what: str) -> None:
    x1, y1, x2, y2 = region
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise InvalidInputError(
            f"{what} {[round(float(v), 2) for v in region]} is outside the {width}x{height} image"
        )


def _check_crop_size(scale: float, width: int, height: int) -> None:
    side = MPII_SCALE_UNIT * scale
    if side < MIN_PERSON_SIDE_PX:
        raise InvalidInputError(
            f"the person crop would be {side:g} pixels wide: it must be at least {MIN_PERSON_SIDE_PX:g} pixel"
        )
    limit = MAX_CROP_TO_IMAGE_RATIO * max(width, height)
    if not side <= limit:  # also catches an infinite side (a box of +-1e308)
        raise InvalidInputError(
            f"the person crop would be {side:g} pixels wide, over {MAX_CROP_TO_IMAGE_RATIO} times the "
            f"{width}x{height} image's longer side",
        )


def region_from_box(
    box: tuple[float, ...], width: int, height: int, score: float | None = None
) -> PersonRegion:
    """A person box (x1, y1, x2, y2), with the detector's score when it found it; InvalidInputError when the
    box is empty, not finite, outside the image, or a side is under MIN_PERSON_SIDE_PX."""
    try:
        center, scale = box_to_center_scale(np.asarray(box, dtype=np.float64))
    except ValueError as error:
        raise InvalidInputError(f"bad person box: {error}") from error
    x1, y1, x2, y2 = box
    if min(x2 - x1, y2 - y1) < MIN_PERSON_SIDE_PX:
        raise InvalidInputError(
            f"person box {[round(float(v), 2) for v in box]} is {x2 - x1:g} x {y2 - y1:g} pixels: each side "
            f"must be at least {MIN_PERSON_SIDE_PX:g} pixel"
        )
    _check_crop_size(scale, width, height)
    _check_overlaps_image(np.asarray(box, dtype=np.float64), width, height, "person box")
    return PersonRegion(box=np.asarray(box, dtype=np.float64), center=center, scale=scale, score=score)


def region_from_center(center: tuple[float, float], scale: float, width: int, height: int) -> PersonRegion:
    """An MPII centre and scale (crop side 200*scale); InvalidInputError for a scale <= 0, a crop side under
    MIN_PERSON_SIDE_PX or a crop outside the image."""
    if not (math.isfinite(scale) and scale > 0):
        raise InvalidInputError(f"person scale must be a positive number, got {scale}")
    _check_crop_size(scale, width, height)
    center_array = np.asarray(center, dtype=np.float64)
    box = center_scale_to_box(center_array, scale)
    _check_overlaps_image(box, width, height, "person crop")
    return PersonRegion(box=box, center=center_array, scale=float(scale))


def region_from_person(person: PersonSpec, width: int, height: int) -> PersonRegion:
    problem = person_form_problem(person.box, person.center, person.scale)
    if problem is not None:
        raise InvalidInputError(problem)
    if person.box is not None:
        return region_from_box(person.box, width, height)
    assert person.center is not None and person.scale is not None  # person_form_problem checked both
    return region_from_center(person.center, person.scale, width, height)


def crop_person(image: DecodedImage, region: PersonRegion, size: int, pixel_scale: float) -> np.ndarray:
    """The network input for one person: (size, size, 3) float32.

    Only windows of at most CROP_WINDOW_PIXELS image pixels are converted to float32 at a time, so a
    person box covering a huge image costs a few MiB, not a float copy of the image.
    """

    def read_window(left: int, top: int, right: int, bottom: int) -> np.ndarray:
        return image.rgb_window(left, top, right, bottom).astype(np.float32)

    crop = crop_image_tiled(
        read_window, (image.height, image.width), region.center, region.scale, size, CROP_WINDOW_PIXELS
    )
    crop *= np.float32(pixel_scale)  # crop_image_tiled's array is ours: no second copy
    return crop


def crops_per_person(flip: bool) -> int:
    """A person's crop, and its mirror when flip is on: what person_groups puts in one group."""
    return FLIP_PAIR_CROPS if flip else 1


def person_groups(crops: np.ndarray, flip: bool) -> list[np.ndarray]:
    """One batcher group per person: its crop, followed by the mirrored crop when flip is on.

    The groups are views of one array, filled with a single copy.
    """
    if not flip:
        return [crops[i : i + 1] for i in range(len(crops))]
    pairs = np.empty((len(crops), 2, *crops.shape[1:]), crops.dtype)
    pairs[:, 0] = crops
    pairs[:, 1] = crops[:, :, ::-1]
    return list(pairs)
