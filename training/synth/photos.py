"""Photographs without people, as shipped inside the scikit-image wheel (`skimage/data/`), for backgrounds
and cloth textures.

Only files that the wheel itself contains are used (no download at run time), and only those that show no
person: not `astronaut`, `camera` (a cameraman), `lfw_subset` (faces), `coins` (heads on coins) or the GIF.
The files are read straight from the package folder with OpenCV, without importing scikit-image.
"""

import importlib.util
from functools import cache
from pathlib import Path

import cv2
import numpy as np

PEOPLE_FREE_PHOTOS = (
    "brick.png",
    "chelsea.png",
    "coffee.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)


class PhotosUnavailable(RuntimeError):
    """scikit-image (the `training` extra) is not installed, so its photographs cannot be read."""


def photo_folder() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise PhotosUnavailable(
            "the generator's photo backgrounds come from scikit-image's data folder: "
            "pip install -e '.[training]' (or pip install scikit-image)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def load_photos() -> tuple[np.ndarray, ...]:
    """The photographs as RGB uint8 arrays (read once per process)."""
    folder = photo_folder()
    photos = []
    for name in PEOPLE_FREE_PHOTOS:
        image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if image is None:
            raise PhotosUnavailable(f"{folder / name} is missing from the installed scikit-image")
        photos.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return tuple(photos)


def random_photo_crop(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random crop of a random photograph, maybe mirrored, resized to (height, width), RGB uint8."""
    photos = load_photos()
    photo = photos[int(rng.integers(len(photos)))]
    ph, pw = photo.shape[:2]
    fraction = rng.uniform(0.3, 1.0)
    aspect = width / height
    crop_h = max(8, int(min(ph, pw / aspect) * fraction))
    crop_w = max(8, int(crop_h * aspect))
    y = int(rng.integers(0, ph - crop_h + 1))
    x = int(rng.integers(0, pw - crop_w + 1))
    crop = photo[y : y + crop_h, x : x + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_AREA)
