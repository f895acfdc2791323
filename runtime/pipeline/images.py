"""Image decoding with Pillow: JPEG, PNG, BMP and WebP, EXIF orientation applied, pixel limit first.

The pixel count is checked from the header before any pixel is decoded, so a small file that expands to
a huge image (a decompression bomb) is refused without allocating it. The decoded image stays in its own
mode (a 1-bit, palette or grey image keeps one byte per pixel); only the windows a crop reads are
converted to RGB, so no request holds a whole-image RGB or float copy.

Every failure to open or decode the bytes is the client's: UnreadableImageError (or ImageTooLargeError),
whatever Pillow raised. An MPO (a JPEG holding several pictures, as phones write for HDR and depth photos)
is read as its first picture, as is an animated PNG or WebP.
"""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from runtime.errors import ImageTooLargeError, UnreadableImageError, UnsupportedImageError

SUPPORTED_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "WEBP")
# Pillow unpacks every PNG text chunk (tEXt, zTXt, iTXt) and the ICC profile (iCCP) when it opens a file, and
# keeps them with the image while it decodes; the runtime uses none of them. Pillow's own limits (1 MiB a
# chunk, 64 MiB of text in all) would let a PNG of under a megabyte make each decoding request hold 64 MiB
# beyond its pixels. 1 MiB a chunk still takes any ICC profile a camera or editor writes (a few KB to a few
# hundred KB); 4 MiB of text in all is far above what photos carry. A PNG over either is refused (400):
# Pillow can skip such chunks only by also accepting truncated images (ImageFile.LOAD_TRUNCATED_IMAGES).
PNG_TEXT_CHUNK_BYTES = 1 << 20
PNG_TEXT_TOTAL_BYTES = 4 << 20
PngImagePlugin.MAX_TEXT_CHUNK = PNG_TEXT_CHUNK_BYTES
PngImagePlugin.MAX_TEXT_MEMORY = PNG_TEXT_TOTAL_BYTES
# Pillow's messages are short; this bounds what a client sees of one.
MAX_REASON_CHARS = 200
# Modes Pillow resizes as they are (1-bit and palette ones by nearest neighbour); others go to RGB first.
RESIZABLE_MODES = ("1", "L", "P", "RGB", "RGBA", "LA")
# Scaling down for drawing first reduces by the largest whole factor (a box average into a small image),
# then resamples: the intermediate of a one-step resample (the full height at the new width) is not made.
SCALE_DOWN_REDUCING_GAP = 1.0


@dataclass(frozen=True)
class ScaledImage:
    """An image's RGB pixels (uint8), scaled by `scale` (at most 1) to fit a longest side."""

    rgb: np.ndarray
    scale: float

    def points(self, xy: np.ndarray, width: int, height: int) -> np.ndarray:
        """Points (..., 2) of the width x height image in this one's pixels (pixel centres map to centres)."""
        points = np.asarray(xy, np.float64)
        if self.rgb.shape[:2] == (height, width):
            return points
        factors = np.array([self.rgb.shape[1] / width, self.rgb.shape[0] / height])
        return (points + 0.5) * factors - 0.5


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

    def rgb_resized(self, width: int, height: int, reducing_gap: float = 3.0) -> np.ndarray:
        """(height, width, 3) uint8 RGB pixels of the whole image resized. No full-size RGB copy is made,
        except for rare modes (16-bit, CMYK...), converted whole first; a smaller `reducing_gap` first
        reduces by a larger whole factor (see Pillow's Image.resize), so the intermediate is smaller."""
        pixels = self.pixels if self.pixels.mode in RESIZABLE_MODES else self.pixels.convert("RGB")
        if (width, height) != pixels.size:
            pixels = pixels.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=reducing_gap)
        return np.asarray(pixels if pixels.mode == "RGB" else pixels.convert("RGB"))

    def rgb_window(self, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        """(bottom-top, right-left, 3) uint8 RGB pixels of a window inside the image."""
        window = self.pixels.crop((left, top, right, bottom))
        return np.asarray(window if window.mode == "RGB" else window.convert("RGB"))

    def scaled_rgb(self, max_side: int) -> ScaledImage:
        """The image as RGB with its longer side at most `max_side` (never enlarged)."""
        scale = min(1.0, max_side / max(self.width, self.height))
        width, height = max(1, round(self.width * scale)), max(1, round(self.height * scale))
        return ScaledImage(self.rgb_resized(width, height, SCALE_DOWN_REDUCING_GAP), scale)


def _reason(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:MAX_REASON_CHARS]


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image with its header read, not yet decoded."""
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        raise UnreadableImageError(
            "the bytes are not a recognised image (send JPEG, PNG, BMP, WebP)"
        ) from error
    except Image.DecompressionBombError as error:
        # Pillow's own bomb limit is far above ours, so an image it refuses is over ours too.
        raise ImageTooLargeError(f"the image has more pixels than the limit of {max_pixels}") from error
    except MemoryError:
        raise
    except Exception as error:  # format plugins raise OSError, SyntaxError, ValueError, struct.error, ...
        raise UnreadableImageError(f"the image header is corrupt or unsupported: {_reason(error)}") from error


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """The upright image; UnreadableImageError, ImageTooLargeError or UnsupportedImageError naming what is
    wrong."""
    if not data:
        raise UnreadableImageError("the image is empty (0 bytes)")
    image = _open(data, max_pixels)
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
    except MemoryError:
        raise
    except Exception as error:  # as in _open: whatever the plugin or the EXIF parser raises
        problem = f"the {image.format} image is truncated or corrupt: {_reason(error)}"
        raise UnreadableImageError(problem) from error
    return DecodedImage(image)
