"""Unit tests of the request pipeline pieces: image decoding limits and the windowed person crop."""

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from helpers import MPII_IMAGES
from PIL import Image
from service_helpers import encode_image, random_image

from core.geometry import crop_image
from runtime.errors import PoseRuntimeError
from runtime.pipeline.images import decode_image
from runtime.pipeline.regions import (
    CROP_WINDOW_PIXELS,
    crop_person,
    person_groups,
    region_from_box,
    region_from_center,
)
from service.errors import runtime_status


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels but whose data is a few bytes: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (5_000, 2_001)])
def test_pixel_limit_is_checked_before_decoding(width: int, height: int) -> None:
    with pytest.raises(PoseRuntimeError) as error:
        decode_image(png_header_only(width, height), max_pixels=10_000_000)
    assert runtime_status(error.value) == 413
    assert "pixels" in error.value.message


def test_decoded_windows_are_rgb_uint8_for_grey_alpha_palette_and_1_bit_inputs() -> None:
    rgb = random_image(20, 30, seed=1)
    grey = Image.fromarray(rgb[..., 0])
    rgba = Image.fromarray(np.dstack([random_image(20, 30, seed=2), np.full((20, 30), 128, np.uint8)]))
    palette = Image.fromarray(rgb).quantize(colors=16)
    one_bit = grey.convert("1")
    for image in (grey, rgba, palette, one_bit):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        decoded = decode_image(buffer.getvalue(), max_pixels=10_000)
        assert (decoded.width, decoded.height) == (30, 20)
        window = decoded.rgb_window(3, 4, 13, 19)
        assert window.shape == (15, 10, 3) and window.dtype == np.uint8
        np.testing.assert_array_equal(window, np.asarray(image.convert("RGB"))[4:19, 3:13])


def test_a_1_bit_image_stays_one_byte_per_pixel_after_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("1", (600, 500), 1).save(buffer, "PNG")
    decoded = decode_image(buffer.getvalue(), max_pixels=10**6)
    assert decoded.pixels.mode == "1"  # Pillow stores it at 1 byte per pixel, RGB at 4


def test_bomb_413_quotes_our_limit_not_pillows() -> None:
    with pytest.raises(PoseRuntimeError) as error:
        decode_image(png_header_only(20_000, 10_000), max_pixels=1_000)  # over Pillow's own bomb limit
    assert runtime_status(error.value) == 413
    assert "limit of 1000" in error.value.message
    assert str(Image.MAX_IMAGE_PIXELS) not in error.value.message


@pytest.mark.parametrize(
    ("center", "scale"),
    [((966.0, 410.78), 5.898), ((20.0, 30.0), 0.9), ((1270.3, 700.6), 1.3), ((640.0, 360.0), 9.0)],
)
def test_windowed_crop_equals_core_crop_on_the_whole_image(center: tuple, scale: float) -> None:
    data = (MPII_IMAGES / "005808361.jpg").read_bytes()
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    region = region_from_center(center, scale, image.shape[1], image.shape[0])
    expected = crop_image(image.astype(np.float32), np.array(center), scale, 64) / np.float32(255)
    decoded = decode_image(data, max_pixels=10**7)
    np.testing.assert_allclose(crop_person(decoded, region, 64, 1 / 255), expected, atol=1e-5)


def test_whole_image_crop_of_a_large_image_converts_only_small_windows() -> None:
    """A 4000x3000 1-bit image with a whole-image box: no float window over CROP_WINDOW_PIXELS."""
    pixels = (random_image(3000, 4000, seed=4)[..., 0] > 128).astype(np.uint8) * 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert("1").save(buffer, "PNG")
    decoded = decode_image(buffer.getvalue(), max_pixels=10**8)
    region = region_from_box((0, 0, 4000, 3000), 4000, 3000)
    tracemalloc.start()
    crop = crop_person(decoded, region, 64, 1 / 255)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    window_bytes = (4 + 1) * 3 * CROP_WINDOW_PIXELS  # one float32 RGB window and its uint8 source
    assert peak < 1.2 * window_bytes  # a float32 copy of the whole image: 144 MB
    rgb = np.repeat(pixels[..., None], 3, axis=2).astype(np.float32)
    expected = crop_image(rgb, region.center, region.scale, 64) / np.float32(255)
    np.testing.assert_allclose(crop, expected, atol=1e-5)


def test_flip_groups_pair_each_crop_with_its_mirror() -> None:
    crops = np.random.default_rng(0).random((3, 4, 5, 3), dtype=np.float32)
    groups = person_groups(crops, flip=True)
    assert len(groups) == 3 and all(g.shape == (2, 4, 5, 3) for g in groups)
    np.testing.assert_array_equal(groups[1][1], crops[1][:, ::-1])
    assert [g.shape[0] for g in person_groups(crops, flip=False)] == [1, 1, 1]


def test_box_partly_outside_the_image_is_accepted() -> None:
    region = region_from_box((-50, -20, 40, 60), width=100, height=100)
    assert region.center.tolist() == [-5.0, 20.0]
    assert region.scale == pytest.approx(90 * 1.25 / 200)


def test_non_image_is_400() -> None:
    with pytest.raises(PoseRuntimeError) as error:
        decode_image(encode_image(random_image(8, 8, seed=3), "PNG")[:30], max_pixels=100)
    assert runtime_status(error.value) == 400
