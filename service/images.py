"""Image decoding with Pillow: JPEG, PNG, BMP and WebP, EXIF orientation applied, pixel limit first.

The pixel count is checked from the header before any pixel is decoded, so a small file that expands to
a huge image (a decompression bomb) is refused without allocating it.
"""

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from service.errors import ServiceError

SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels, upright; ServiceError 400/413/415 naming what is wrong."""
    if not data:
        raise ServiceError(400, "the image is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data), formats=None)
    except UnidentifiedImageError as error:
        raise ServiceError(400, "the bytes are not a recognised image (send JPEG, PNG, BMP, WebP)") from error
    except Image.DecompressionBombError as error:
        raise ServiceError(413, f"the image has too many pixels: {error}") from error
    if image.format not in SUPPORTED_FORMATS:
        raise ServiceError(415, f"unsupported image type {image.format}: send JPEG, PNG, BMP or WebP")
    width, height = image.size
    if width * height > max_pixels:
        raise ServiceError(
            413, f"the image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}"
        )
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
        rgb = upright.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise ServiceError(400, f"the {image.format} image is truncated or corrupt: {error}") from error
    return np.asarray(rgb)
