"""Procedural textures with natural-image statistics, for backgrounds and cloth: 1/f noise, stripes,
checks, dots, tiles and crops of people-free photographs (training.synth.photos)."""

import math

import cv2
import numpy as np

from training.synth.photos import random_photo_crop

PATTERN_KINDS = ("noise", "stripes", "checks", "dots", "photo")


def pink_noise(rng: np.random.Generator, height: int, width: int, exponent: float = 1.0) -> np.ndarray:
    """(height, width) noise whose amplitude spectrum falls as 1/f^exponent, scaled to [-1, 1].

    Natural images have about exponent 1 (a 1/f^2 power spectrum)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.sqrt(fx * fx + fy * fy)
    frequency[0, 0] = 1.0
    spectrum = (rng.standard_normal(frequency.shape) + 1j * rng.standard_normal(frequency.shape)) / (
        frequency**exponent
    )
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(height, width))
    return (field / max(float(np.abs(field).max()), 1e-9)).astype(np.float32)


def colored_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An RGB field in [0, 255]: two colours mixed by 1/f noise, plus fainter noise per channel.

    Drawn at half size and enlarged: 1/f noise has little power at the finest scale, and it is 4x cheaper."""
    half_h, half_w = (height + 1) // 2, (width + 1) // 2
    a, b = rng.uniform(0, 255, size=(2, 3))
    mix = (pink_noise(rng, half_h, half_w, rng.uniform(0.8, 1.6)) + 1.0) / 2.0
    grain = np.stack([pink_noise(rng, half_h, half_w, 1.0) for _ in range(3)], axis=-1)
    image = a + mix[..., None] * (b - a) + grain * rng.uniform(0, 30)
    image = cv2.resize(image.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(image, 0, 255)


def tiles(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Floor or wall tiles (offset rows like bricks, or a grid) with grout lines and per-tile shade."""
    tile_h, tile_w = rng.uniform(8, 60), rng.uniform(8, 90)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    row = np.floor(ys / tile_h)
    offset = (row % 2) * tile_w / 2 if rng.random() < 0.5 else 0.0
    col = np.floor((xs + offset) / tile_w)
    grout = rng.uniform(1, 3)
    edge = ((ys % tile_h) < grout) | (((xs + offset) % tile_w) < grout)
    base, line = rng.uniform(0, 255, size=(2, 3))
    # A pseudo-random shade per tile from its row and column.
    shade = np.sin(row * 12.9898 + col * 78.233) * 43758.5453
    shade = (shade - np.floor(shade) - 0.5) * rng.uniform(0, 60)
    image = base + shade[..., None]
    image[edge] = line
    return np.clip(image, 0, 255)


def pattern_tile(rng: np.random.Generator, kind: str, size: int = 64) -> np.ndarray:
    """(size, size, 3) float32 colour factors around 1, tiled over a part: cloth and skin textures."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    strength = rng.uniform(0.15, 0.5)
    if kind == "noise":
        field = np.repeat(pink_noise(rng, size, size, rng.uniform(0.8, 2.0))[..., None], 3, axis=-1)
    elif kind == "stripes":
        period = size / int(rng.integers(2, 9))
        field = np.repeat(np.sign(np.sin(2 * math.pi * xs / period))[..., None], 3, axis=-1)
    elif kind == "checks":
        period = size / int(rng.integers(2, 7))
        plaid = np.sin(2 * math.pi * xs / period) + np.sin(2 * math.pi * ys / period)
        tint = rng.uniform(-1, 1, size=3)
        field = (plaid / 2)[..., None] * (0.6 + 0.4 * tint)
    elif kind == "dots":
        period = size / int(rng.integers(3, 9))
        distance = np.hypot((xs % period) - period / 2, (ys % period) - period / 2)
        field = np.repeat(np.where(distance < period * rng.uniform(0.15, 0.35), 1.0, -0.3)[..., None], 3, -1)
    elif kind == "photo":
        crop = random_photo_crop(rng, size, size).astype(np.float32)
        field = (crop - crop.mean()) / max(float(crop.std()), 1.0) / 2.5
    else:
        raise ValueError(f"unknown pattern kind {kind!r}; known: {', '.join(PATTERN_KINDS)}")
    field = cv2.GaussianBlur(field.astype(np.float32), (0, 0), 0.6)  # no aliased hard edges
    return np.clip(1.0 + strength * field, 0.3, 1.8).astype(np.float32)
