"""Training samples: crops and target heatmaps agree with the annotated joints under every augmentation."""

import math
from pathlib import Path

import numpy as np
import pytest

from core.joints import FLIP_PERMUTATION
from core.mpii import read_annotations
from training.dataset import Augmentation, PoseDataset, Transform, create_dataset, jitter_colors
from training.synth import generate

INPUT_SIZE = 128
HEATMAP_SIZE = INPUT_SIZE // 4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> PoseDataset:
    out = tmp_path_factory.mktemp("synth")
    generate(out, train=24, val=0, seed=5, workers=1)
    return PoseDataset(read_annotations(out / "annot" / "train.h5"), out / "images", INPUT_SIZE)


def expected_heatmap_xy(dataset: PoseDataset, index: int, transform: Transform) -> np.ndarray:
    """Joints at heatmap resolution, written out independently of core.geometry: 0-based, scaled about the
    centre, turned by the rotation (counter-clockwise on screen), then mirrored when flipped."""
    ann = dataset.annotations
    side = 200.0 * ann.scale[index] * transform.scale_factor
    offset = (ann.part[index] - 1.0 - ann.center[index]) * HEATMAP_SIZE / side
    angle = math.radians(transform.rotation_deg)
    rotated = np.stack(
        [
            offset[:, 0] * math.cos(angle) + offset[:, 1] * math.sin(angle),
            -offset[:, 0] * math.sin(angle) + offset[:, 1] * math.cos(angle),
        ],
        axis=-1,
    )
    xy = rotated + HEATMAP_SIZE / 2
    if transform.flip:
        xy[:, 0] = (INPUT_SIZE - 1) / 4 - xy[:, 0]
        xy = xy[FLIP_PERMUTATION]
    return xy


@pytest.mark.parametrize(
    "transform",
    [Transform(), Transform(rotation_deg=25.0, scale_factor=1.2), Transform(rotation_deg=-17.0, flip=True)],
    ids=["plain", "rotated-zoomed-out", "rotated-flipped"],
)
def test_targets_peak_at_the_transformed_joints(dataset: PoseDataset, transform: Transform) -> None:
    checked = 0
    for index in range(len(dataset)):
        image, heatmaps = dataset.sample(index, transform)
        assert image.shape == (INPUT_SIZE, INPUT_SIZE, 3) and image.dtype == np.float32
        assert heatmaps.shape == (16, HEATMAP_SIZE, HEATMAP_SIZE) and heatmaps.dtype == np.float32
        expected = expected_heatmap_xy(dataset, index, transform)
        annotated = dataset.annotations.annotated[index]
        if transform.flip:
            annotated = annotated[FLIP_PERMUTATION]
        for joint in range(16):
            x, y = np.trunc(expected[joint]).astype(int)
            on_map = (
                annotated[joint]
                and expected[joint, 0] > 0
                and 0 <= x < HEATMAP_SIZE
                and 0 <= y < HEATMAP_SIZE
            )
            if not on_map:
                assert heatmaps[joint].max() == 0
                continue
            peak_y, peak_x = np.unravel_index(heatmaps[joint].argmax(), heatmaps[joint].shape)
            assert (peak_x, peak_y) == (x, y)
            assert heatmaps[joint, y, x] == pytest.approx(1.0)
            checked += 1
    assert checked > 100


def test_flip_mirrors_the_crop_and_moves_the_not_annotated_mask_with_its_joint(dataset: PoseDataset) -> None:
    index = next(i for i in range(len(dataset)) if not dataset.annotations.annotated[i].all())
    missing = np.flatnonzero(~dataset.annotations.annotated[index])
    plain_image, plain_maps = dataset.sample(index, Transform())
    flipped_image, flipped_maps = dataset.sample(index, Transform(flip=True))
    np.testing.assert_array_equal(flipped_image, plain_image[:, ::-1])
    # The reference applies the mask with the unflipped index; here the mirrored joint's channel is empty.
    for joint in missing:
        assert flipped_maps[FLIP_PERMUTATION[joint]].max() == 0
    np.testing.assert_array_equal(
        flipped_maps.max(axis=(1, 2)) > 0, plain_maps[FLIP_PERMUTATION].max(axis=(1, 2)) > 0
    )


def test_random_transforms_stay_in_the_seed_ranges() -> None:
    rng = np.random.default_rng(0)
    aug = Augmentation()
    draws = [Transform.draw(rng, aug) for _ in range(400)]
    assert all(abs(t.rotation_deg) <= 30 and 0.75 <= t.scale_factor < 1.25 for t in draws)
    assert 0.4 < np.mean([t.flip for t in draws]) < 0.6
    assert 0.4 < np.mean([t.jitters for t in draws]) < 0.6
    assert all(
        abs(t.hue_deg) <= 72 and 0.5 <= t.saturation <= 1.5 and abs(t.brightness) <= 0.3 for t in draws
    )


def test_colour_jitter_changes_colours_within_range(dataset: PoseDataset) -> None:
    image, _ = dataset.sample(0, Transform())
    np.testing.assert_allclose(jitter_colors(image, Transform()), image, atol=1e-5)
    jittered = jitter_colors(image, Transform(hue_deg=60.0, saturation=1.4, brightness=0.2, contrast=1.3))
    assert jittered.min() >= 0 and jittered.max() <= 1
    assert np.abs(jittered - image).mean() > 0.05


def test_augmented_samples_are_reproducible_per_seed(dataset: PoseDataset) -> None:
    first = PoseDataset(dataset.annotations, dataset.image_dir, INPUT_SIZE, seed=7)
    second = PoseDataset(dataset.annotations, dataset.image_dir, INPUT_SIZE, seed=7)
    for index in (0, 3, 0):
        np.testing.assert_array_equal(first[index][0], second[index][0])
    assert not np.array_equal(
        first[1][0], PoseDataset(dataset.annotations, dataset.image_dir, INPUT_SIZE)[1][0]
    )


def test_mindspore_pipeline_batches_with_drop_remainder(dataset: PoseDataset) -> None:
    batches = list(
        create_dataset(dataset, batch_size=5, num_workers=1).create_tuple_iterator(output_numpy=True)
    )
    assert len(batches) == len(dataset) // 5
    images, heatmaps = batches[0]
    assert images.shape == (5, INPUT_SIZE, INPUT_SIZE, 3) and images.dtype == np.float32
    assert heatmaps.shape == (5, 16, HEATMAP_SIZE, HEATMAP_SIZE)
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_short_epochs_draw_a_fresh_subset_of_the_whole_data_set(dataset: PoseDataset) -> None:
    plain = PoseDataset(dataset.annotations, dataset.image_dir, INPUT_SIZE, augmentation=None)
    targets = np.stack([plain[index][1] for index in range(len(plain))])
    pipeline = create_dataset(plain, batch_size=4, samples_per_epoch=8, num_workers=1)
    iterator = pipeline.create_tuple_iterator(output_numpy=True, num_epochs=3)
    epochs = []
    for _ in range(3):
        rows = np.concatenate([heatmaps for _, heatmaps in iterator])
        matches = [np.flatnonzero((targets == row).all(axis=(1, 2, 3))) for row in rows]
        assert all(len(match) == 1 for match in matches)
        epochs.append({int(match[0]) for match in matches})
    assert all(len(persons) == 8 for persons in epochs)
    assert len(set.union(*epochs)) > 8, "every epoch drew the same first 8 persons"


def test_epochs_longer_than_the_data_set_wrap_around(dataset: PoseDataset) -> None:
    batches = list(
        create_dataset(
            dataset, batch_size=4, samples_per_epoch=2 * len(dataset), num_workers=1
        ).create_tuple_iterator(output_numpy=True)
    )
    assert len(batches) == 2 * len(dataset) // 4


def test_missing_image_is_named(dataset: PoseDataset, tmp_path: Path) -> None:
    broken = PoseDataset(dataset.annotations, tmp_path, INPUT_SIZE)
    with pytest.raises(FileNotFoundError, match=dataset.annotations.imgname[0]):
        broken[0]
