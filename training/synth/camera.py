"""What a camera does to a drawn scene: uneven lighting and colour cast, defocus or motion blur, sensor
noise and JPEG artefacts (a low-quality pass before the file's own encoding)."""

import math

import cv2
import numpy as np


def light(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A smooth brightness gradient or vignette, a colour cast and an exposure change.

    The gain is smooth, so it is computed on a grid 8 times coarser and enlarged."""
    height, width = image.shape[:2]
    small_h, small_w = max(height // 8, 2), max(width // 8, 2)
    ys = np.linspace(0.0, 1.0, small_h, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, small_w, dtype=np.float32)[None, :]
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * math.pi)
        gain = 1.0 + rng.uniform(0, 0.45) * ((xs - 0.5) * math.cos(angle) + (ys - 0.5) * math.sin(angle)) * 2
    else:
        cx, cy = rng.uniform(0.2, 0.8, size=2)
        distance = np.hypot((xs - cx) * width, (ys - cy) * height) / max(height, width)
        gain = 1.0 + rng.uniform(0.1, 0.4) - rng.uniform(0.2, 1.0) * distance
    gain = cv2.resize(
        np.clip(gain, 0.3, 1.6).astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
    )
    cast = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    exposure = np.float32(rng.uniform(0.7, 1.25))
    return image * (gain[..., None] * cast * exposure)


def blur(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Gaussian (defocus) or a short linear motion blur."""
    if rng.random() < 0.6:
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.8))
    length = int(rng.integers(3, 9))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, turn, (length, length))
    return cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))


def add_noise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Gaussian sensor noise, grey or per channel."""
    sigma = np.float32(rng.uniform(0.0, 12.0))
    if rng.random() < 0.5:
        noise = rng.standard_normal(size=image.shape[:2], dtype=np.float32)[..., None]
    else:
        noise = rng.standard_normal(size=image.shape, dtype=np.float32)
    return image + noise * sigma


def jpeg_artifacts(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """The image through a JPEG encoder at quality 15-70 and back (RGB uint8 in and out)."""
    quality = int(rng.integers(15, 71))
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def photograph(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """The drawn float RGB scene as a camera would give it: RGB uint8."""
    image = image.astype(np.float32)
    if rng.random() < 0.7:
        image = light(rng, image)
    if rng.random() < 0.4:
        image = blur(rng, image)
    image = np.clip(add_noise(rng, image), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        image = jpeg_artifacts(rng, image)
    return image
