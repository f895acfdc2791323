"""Backgrounds: the first generator's gradients, colour noise and stripes/checks, plus 1/f noise, tiles and
crops of people-free photographs, so that a background has the statistics of natural images."""

import math

import cv2
import numpy as np

from training.synth.photos import random_photo_crop
from training.synth.textures import colored_noise, tiles

# Kind -> sampling weight.
BACKGROUND_KINDS: dict[str, float] = {
    "gradient": 0.08,
    "blobs": 0.08,
    "stripes": 0.06,
    "pink_noise": 0.2,
    "tiles": 0.13,
    "photo": 0.45,
}


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, width)[None, :] * rng.uniform(-1, 1)
    ramp = ramp + np.linspace(0.0, 1.0, height)[:, None] * rng.uniform(-1, 1)
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    a, b = rng.uniform(0, 255, size=(2, 3))
    return a + ramp[..., None] * (b - a)


def _blobs(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    cells = int(rng.integers(2, 10))
    small = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(6.0, 40.0)
    angle = rng.uniform(0, math.pi)
    phase = (xs * math.cos(angle) + ys * math.sin(angle)) / period
    pattern = np.sin(2 * math.pi * phase)
    if rng.random() < 0.5:
        pattern = pattern * np.sin(2 * math.pi * (-xs * math.sin(angle) + ys * math.cos(angle)) / period)
    a, b = rng.uniform(0, 255, size=(2, 3))
    return a + (pattern[..., None] > 0) * (b - a)


def _photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    image = random_photo_crop(rng, height, width).astype(np.float32)
    # A colour cast and contrast change, so that eleven photographs give many backgrounds.
    gain = rng.uniform(0.7, 1.3, size=3).astype(np.float32)
    return np.clip((image - 128.0) * rng.uniform(0.6, 1.3) + 128.0 + rng.uniform(-30, 30), 0, 255) * gain


_DRAWERS = {
    "gradient": _gradient,
    "blobs": _blobs,
    "stripes": _stripes,
    "pink_noise": colored_noise,
    "tiles": tiles,
    "photo": _photo,
}


def draw_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A (height, width, 3) float RGB background of a randomly chosen kind."""
    kinds = list(BACKGROUND_KINDS)
    weights = np.array([BACKGROUND_KINDS[k] for k in kinds])
    kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    return np.asarray(_DRAWERS[kind](rng, height, width), dtype=np.float32)
