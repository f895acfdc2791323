import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import MPII_IMAGES

from core.geometry import (
    box_to_center_scale,
    center_scale_to_box,
    crop_image,
    crop_image_tiled,
    crop_to_image_points,
    crop_transform,
    transform_points,
)


def test_crop_transform_maps_the_person_square_onto_the_crop() -> None:
    center, scale = np.array([300.0, 200.0]), 1.5  # a 300-pixel square
    matrix = crop_transform(center, scale, 256)
    corners = transform_points(np.array([[150.0, 50.0], [450.0, 350.0], [300.0, 200.0]]), matrix)
    assert np.allclose(corners, [[0, 0], [256, 256], [128, 128]])


def test_rectangular_size_is_height_width() -> None:
    matrix = crop_transform(np.array([100.0, 100.0]), 1.0, (64, 128))
    assert np.allclose(transform_points(np.array([200.0, 200.0]), matrix), [128, 64])


def test_rotation_turns_about_the_crop_centre() -> None:
    center = np.array([300.0, 200.0])
    matrix = crop_transform(center, 1.0, 256, rotation_deg=90)
    assert np.allclose(transform_points(center, matrix), [128, 128])
    # A point right of the centre ends up above it: the person turns counter-clockwise.
    assert np.allclose(transform_points(center + np.array([50.0, 0.0]), matrix), [128, 128 - 64])


def test_crop_to_image_points_inverts_the_transform_for_many_persons() -> None:
    rng = np.random.default_rng(0)
    centers = rng.uniform(100, 900, (5, 2))
    scales = rng.uniform(0.5, 5, 5)
    crop_points = rng.uniform(0, 256, (5, 16, 2))
    image_points = crop_to_image_points(crop_points, centers, scales, 256)
    for person in range(5):
        forward = crop_transform(centers[person], scales[person], 256)
        assert np.allclose(transform_points(image_points[person], forward), crop_points[person])


def test_crop_reproduces_the_reference_crops(fixtures_dir: Path) -> None:
    golden = np.load(fixtures_dir / "golden" / "crop_mpii_val5.npz")
    for name, center, scale, expected in zip(
        golden["imgname"], golden["center"], golden["scale"], golden["crop_rgb"], strict=True
    ):
        image = cv2.cvtColor(cv2.imread(str(MPII_IMAGES / name)), cv2.COLOR_BGR2RGB)
        crop = crop_image(image.astype(np.float32), center, scale, 256)
        assert crop.shape == (256, 256, 3)
        assert np.abs(crop - expected).max() <= 1.0
        crop_uint8 = crop_image(image, center, scale, 256)
        assert crop_uint8.dtype == np.uint8
        assert np.abs(crop_uint8.astype(np.float32) - expected).max() <= 1.0


def test_huge_person_does_not_allocate_a_padded_copy() -> None:
    image = np.full((200, 200, 3), 255, np.uint8)
    tracemalloc.start()
    crop = crop_image(image, np.array([100.0, 100.0]), 15.0, 256)  # a 3000x3000 square
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3000 * 3000  # a padded uint8 RGB intermediate would need 27 MB
    # The image occupies the central 200/3000 of the crop; the rest is zero border.
    assert crop[128, 128].tolist() == [255, 255, 255]
    assert crop[10, 10].tolist() == [0, 0, 0]


def test_rotated_crop_moves_a_marked_pixel_where_the_transform_says() -> None:
    image = np.zeros((400, 400), np.float32)
    image[150, 260] = 1000.0
    center, scale, rotation = np.array([200.0, 200.0]), 1.28, 30.0
    crop = crop_image(image, center, scale, 256, rotation_deg=rotation)
    expected = transform_points(np.array([260.0, 150.0]), crop_transform(center, scale, 256, rotation))
    peak = np.unravel_index(np.argmax(crop), crop.shape)
    assert np.allclose([peak[1], peak[0]], expected, atol=1.0)


def test_box_to_center_scale_pads_the_longer_side() -> None:
    center, scale = box_to_center_scale(np.array([10.0, 20.0, 110.0, 420.0]))
    assert np.allclose(center, [60, 220])
    assert scale == pytest.approx(400 * 1.25 / 200)
    assert np.allclose(center_scale_to_box(center, scale), [-190, -30, 310, 470])


@pytest.mark.parametrize("box", [[10, 10, 10, 50], [10, 60, 50, 20], [0, 0, float("nan"), 5]])
def test_degenerate_boxes_are_rejected(box: list[float]) -> None:
    with pytest.raises(ValueError, match="box"):
        box_to_center_scale(np.array(box))


@pytest.mark.parametrize("max_window_pixels", [64, 5_000, 10**9])
def test_tiled_crop_equals_the_one_warp_crop(max_window_pixels: int) -> None:
    """Tiles made from bounded windows give crop_image's crop, for persons inside, across and beyond the
    image, shrinking or enlarging it."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8).astype(np.float32)
    windows: list[int] = []

    def read_window(left: int, top: int, right: int, bottom: int) -> np.ndarray:
        windows.append((right - left) * (bottom - top))
        return image[top:bottom, left:right]

    for _ in range(40):
        center, scale = rng.uniform([-100, -100], [600, 400]), rng.uniform(0.05, 6.0)
        expected = crop_image(image, center, scale, 64)
        tiled = crop_image_tiled(read_window, (300, 500), center, scale, 64, max_window_pixels)
        np.testing.assert_allclose(tiled, expected, atol=1e-5)
    if max_window_pixels == 5_000:
        assert max(windows) <= 5_000 * 1.2 and len(windows) > 40
