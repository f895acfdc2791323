"""Image decoding with Pillow: JPEG, PNG, BMP and WebP, EXIF orientation applied, pixel limit first.

The pixel count is checked from the header before any pixel is decoded, so a small file that expands to
a huge image (a decompression bomb) is refused without allocating it. The decoded image stays in its own
mode (a 1-bit, palette or grey image keeps one byte per pixel); only the windows a crop reads are
converted to RGB, so no request holds a whole-image RGB or float copy.
"""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from runtime.errors import ImageTooLargeError, UnreadableImageError, UnsupportedImageError

SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")


@dataclass(frozen=True)
class DecodedImage:
    """An upright, fully decoded image in its compact Pillow mode."""

    pixels: Image.Image

    @property
    def width(self) -> int:
        return self.pixels.width

    @property
    def height(self) -> int:
        return self.pixels.height

    def rgb_resized(self, width: int, height: int) -> np.ndarray:
        """(height, width, 3) uint8 RGB pixels of the whole image resized (no full-size RGB copy is made)."""
        resized = self.pixels.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
        return np.asarray(resized if resized.mode == "RGB" else resized.convert("RGB"))

    def rgb_window(self, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        """(bottom-top, right-left, 3) uint8 RGB pixels of a window inside the image."""
        window = self.pixels.crop((left, top, right, bottom))
        return np.asarray(window if window.mode == "RGB" else window.convert("RGB"))


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """The upright image; UnreadableImageError, ImageTooLargeError or UnsupportedImageError naming what is
    wrong."""
    if not data:
        raise UnreadableImageError("the image is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data), formats=None)
    except UnidentifiedImageError as error:
        raise UnreadableImageError(
            "the bytes are not a recognised image (send JPEG, PNG, BMP, WebP)"
        ) from error
    except Image.DecompressionBombError as error:
        # Pillow's own bomb limit is far above ours, so an image it refuses is over ours too.
        raise ImageTooLargeError(f"the image has more pixels than the limit of {max_pixels}") from error
    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedImageError(f"unsupported image type {image.format}: send JPEG, PNG, BMP or WebP")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"the image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}"
        )
    try:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableImageError(f"the {image.format} image is truncated or corrupt: {error}") from error
    return DecodedImage(image)
