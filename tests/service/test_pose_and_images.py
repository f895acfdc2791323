"""Unit tests of the request pipeline pieces: image decoding limits and the windowed person crop."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from service_helpers import MPII_IMAGES, encode_image, random_image

from core.geometry import crop_image
from service.errors import ServiceError
from service.images import decode_image
from service.regions import crop_person, person_groups, region_from_box, region_from_center


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
    with pytest.raises(ServiceError) as error:
        decode_image(png_header_only(width, height), max_pixels=10_000_000)
    assert error.value.status_code == 413
    assert "pixels" in error.value.message


def test_decoded_image_is_rgb_uint8_for_grey_and_alpha_inputs() -> None:
    grey = Image.fromarray(random_image(20, 30, seed=1)[..., 0])
    rgba = Image.fromarray(np.dstack([random_image(20, 30, seed=2), np.full((20, 30), 128, np.uint8)]))
    for image in (grey, rgba):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        pixels = decode_image(buffer.getvalue(), max_pixels=10_000)
        assert pixels.shape == (20, 30, 3) and pixels.dtype == np.uint8


@pytest.mark.parametrize(
    ("center", "scale"),
    [((966.0, 410.78), 5.898), ((20.0, 30.0), 0.9), ((1270.3, 700.6), 1.3), ((640.0, 360.0), 9.0)],
)
def test_windowed_crop_equals_core_crop_on_the_whole_image(center: tuple, scale: float) -> None:
    image = np.asarray(Image.open(MPII_IMAGES / "005808361.jpg").convert("RGB"))
    region = region_from_center(center, scale, image.shape[1], image.shape[0])
    expected = crop_image(image.astype(np.float32), np.array(center), scale, 64) / np.float32(255)
    np.testing.assert_allclose(crop_person(image, region, 64, 1 / 255), expected, atol=1e-5)


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
    with pytest.raises(ServiceError) as error:
        decode_image(encode_image(random_image(8, 8, seed=3), "PNG")[:30], max_pixels=100)
    assert error.value.status_code == 400
