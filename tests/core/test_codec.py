from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.codec import HeatmapCodec
from core.joints import FLIP_PERMUTATION, JOINT_NAMES, NUM_JOINTS
from core.model_repo import InputSpec, ModelMetadata, ModelRepositoryError, OutputSpec

CODEC = HeatmapCodec()


def test_encode_is_identical_to_the_reference(fixtures_dir: Path) -> None:
    golden = np.load(fixtures_dir / "golden" / "heatmap_encode.npz")
    heatmaps = CODEC.encode(golden["keypoints_64"])
    assert heatmaps.dtype == np.float32
    assert np.array_equal(heatmaps, golden["heatmaps"])


def test_encode_draws_nothing_for_unannotated_or_outside_joints() -> None:
    keypoints = np.array([[0.0, 0.0], [-3.0, 10.0], [64.0, 10.0], [10.0, 64.5], [10.7, 20.2]])
    heatmaps = CODEC.encode(keypoints)
    assert not heatmaps[:4].any()
    assert heatmaps[4, 20, 10] == 1.0 and heatmaps[4].sum() > 1.0


def test_decode_matches_the_reference_heatmap_coordinates_and_scores(golden_decode: dict) -> None:
    decoded = CODEC.decode(
        golden_decode["heatmaps_orig"],
        golden_decode["center"],
        golden_decode["scale"],
        flipped_heatmaps=golden_decode["heatmaps_flipped_input"],
    )
    assert np.array_equal(decoded.heatmap_xy, golden_decode["hm_xy_val"][..., :2])
    assert np.array_equal(decoded.scores, golden_decode["hm_xy_val"][..., 2].astype(np.float32))
    assert np.array_equal(decoded.heatmap_xy * CODEC.stride, golden_decode["crop256_xy"])
    assert np.abs(decoded.image_xy - golden_decode["image_xy_float"]).max() <= 1e-6


def test_truncating_mode_reproduces_the_reference_integers(golden_decode: dict) -> None:
    decoded = CODEC.decode(
        golden_decode["heatmaps_orig"],
        golden_decode["center"],
        golden_decode["scale"],
        flipped_heatmaps=golden_decode["heatmaps_flipped_input"],
        truncate=True,
    )
    assert np.array_equal(decoded.image_xy, golden_decode["image_xy_int"])


def test_merge_flip_mirrors_back_and_swaps_sides() -> None:
    heatmaps = np.zeros((1, 16, 8, 8), np.float32)
    flipped = np.zeros_like(heatmaps)
    flipped[0, 0, 2, 1] = 4.0  # r_ankle seen at x=1 in the mirrored crop is l_ankle at x=6
    merged = CODEC.merge_flip(heatmaps, flipped)
    assert merged[0, FLIP_PERMUTATION[0], 2, 6] == 1.0  # (0 + 4) / 2, clipped at 1
    assert merged.sum() == 1.0


def test_quarter_offset_steps_towards_the_larger_neighbour() -> None:
    heatmaps = np.zeros((1, 2, 8, 8), np.float32)
    heatmaps[0, 0, 3, 4], heatmaps[0, 0, 3, 5], heatmaps[0, 0, 2, 4] = 1.0, 0.5, 0.2
    heatmaps[0, 1, 0, 0] = 0.7  # border peak: equal clamped neighbours step down
    xy, scores = CODEC.locate_peaks(heatmaps)
    assert np.allclose(xy[0, 0], [4 + 0.25 + 0.5, 3 - 0.25 + 0.5])
    assert np.allclose(xy[0, 1], [0 - 0.25 + 0.5, 0 - 0.25 + 0.5])
    assert np.allclose(scores[0], [1.0, 0.7])


def test_non_positive_peak_is_not_refined() -> None:
    heatmaps = np.full((1, 1, 4, 4), -1.0, np.float32)
    xy, scores = CODEC.locate_peaks(heatmaps)
    assert scores[0, 0] <= 0
    assert np.array_equal(xy[0, 0], np.trunc(xy[0, 0]))


def test_encode_then_decode_round_trips_at_other_sizes() -> None:
    codec = HeatmapCodec(input_size=128, heatmap_size=32)
    keypoints = np.array([[[5.0, 7.0], [20.0, 11.0]]])
    decoded = codec.locate_peaks(codec.encode(keypoints))[0]
    assert np.abs(decoded - (keypoints + 0.5)).max() <= 0.25


def test_input_must_be_a_multiple_of_the_heatmap() -> None:
    with pytest.raises(ValueError, match="multiple"):
        HeatmapCodec(input_size=250, heatmap_size=64)


def _reference_peaks(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference's parse written as plain loops: full 3x3 NMS, first arg-max."""
    n, j, h, w = heatmaps.shape
    index = np.zeros((n, j), np.int64)
    scores = np.zeros((n, j), np.float32)
    for p in range(n):
        for k in range(j):
            suppressed = np.zeros((h, w), np.float32)
            for y in range(h):
                for x in range(w):
                    window = heatmaps[p, k, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
                    suppressed[y, x] = heatmaps[p, k, y, x] if heatmaps[p, k, y, x] == window.max() else 0
            index[p, k] = suppressed.argmax()
            scores[p, k] = suppressed.flat[index[p, k]]
    return index, scores


@pytest.mark.parametrize("offset", [0.0, -0.5, -2.0])
def test_peak_search_equals_full_nms_also_for_non_positive_maps(offset: float) -> None:
    rng = np.random.default_rng(int(-offset * 10))
    heatmaps = (rng.integers(-3, 4, (3, 4, 6, 6)) / 4 + offset).astype(np.float32)  # many ties
    heatmaps[0, 0] = offset  # a constant map
    expected_index, expected_scores = _reference_peaks(heatmaps)
    xy, scores = CODEC.locate_peaks(heatmaps)
    assert np.array_equal(scores, expected_scores)
    positive = expected_scores > 0
    y, x = np.divmod(expected_index, 6)
    assert np.array_equal(xy[..., 0][~positive], x[~positive])
    assert np.array_equal(xy[..., 1][~positive], y[~positive])
    assert np.array_equal(np.floor(xy[..., 0][positive]), x[positive])


@pytest.mark.parametrize("seed", range(20))
def test_permutation_runs_reproduce_any_permutation(seed: int) -> None:
    from core.codec import _permutation_runs

    rng = np.random.default_rng(seed)
    permutation = rng.permutation(int(rng.integers(1, 17)))
    if seed % 3 == 0:
        permutation = np.sort(permutation)[::-1]
    rebuilt = np.empty_like(permutation)
    for target, source in _permutation_runs(permutation):
        rebuilt[target] = np.arange(len(permutation))[source]
    assert np.array_equal(rebuilt, permutation)


@pytest.mark.parametrize("helper_threads", [0, 1, 3])
def test_decoding_flip_pairs_together_equals_decoding_each_alone(
    golden_decode: dict, helper_threads: int
) -> None:
    """37 persons, shared by the helper threads off block boundaries, equal each person decoded alone."""
    keys = ("heatmaps_orig", "center", "scale", "heatmaps_flipped_input")
    heatmaps, centers, scales, flipped = (golden_decode[key][:37] for key in keys)
    with ThreadPoolExecutor(max(helper_threads, 1)) as pool:
        helpers = (pool, helper_threads) if helper_threads else None
        together = CODEC.decode(heatmaps, centers, scales, flipped_heatmaps=flipped, helpers=helpers)
    for person in range(37):
        alone = CODEC.decode(
            heatmaps[person : person + 1],
            centers[person : person + 1],
            scales[person : person + 1],
            flipped_heatmaps=flipped[person : person + 1],
        )
        assert np.array_equal(alone.heatmap_xy[0], together.heatmap_xy[person])
        assert np.array_equal(alone.scores[0], together.scores[person])


def _metadata(size: int, heatmap: int, flip_permutation: tuple[int, ...]) -> ModelMetadata:
    return ModelMetadata(
        name="m",
        version=1,
        input=InputSpec(height=size, width=size),
        output=OutputSpec(nstack=2, num_joints=NUM_JOINTS, heatmap_height=heatmap, heatmap_width=heatmap),
        features=32,
        joint_names=JOINT_NAMES,
        flip_permutation=flip_permutation,
        parameter_count=1,
        files={},
        exported_at="2026-01-01T00:00:00+00:00",
    )


def test_codec_from_metadata_takes_its_sizes_and_flip_permutation() -> None:
    swapped_last_two = (*range(NUM_JOINTS - 2), NUM_JOINTS - 1, NUM_JOINTS - 2)
    codec = HeatmapCodec.from_metadata(_metadata(128, 32, swapped_last_two))
    assert (codec.input_size, codec.heatmap_size, codec.stride) == (128, 32, 4)
    assert codec.flip_permutation == swapped_last_two
    assert HeatmapCodec.from_metadata(_metadata(256, 64, tuple(FLIP_PERMUTATION.tolist()))) == CODEC


def test_merge_flip_swaps_joints_by_the_codecs_own_permutation() -> None:
    identity = HeatmapCodec(flip_permutation=tuple(range(NUM_JOINTS)))
    flipped = np.zeros((1, NUM_JOINTS, 8, 8), np.float32)
    flipped[0, 0, 2, 1] = 4.0
    merged = identity.merge_flip(np.zeros_like(flipped), flipped)
    assert merged[0, 0, 2, 6] == 1.0 and merged.sum() == 1.0
    with pytest.raises(ValueError, match="flip permutation has 16"):
        CODEC.merge_flip(flipped[:, :15], flipped[:, :15])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"flip_permutation": tuple(range(15))}, "15 entries for 16 joints"),
        ({"flip_permutation": (0,) * NUM_JOINTS}, "not a permutation"),
        ({"input": InputSpec(height=256, width=192)}, "square"),
    ],
)
def test_codec_from_metadata_refuses_what_it_cannot_decode(change: dict, message: str) -> None:
    metadata = replace(_metadata(256, 64, tuple(FLIP_PERMUTATION.tolist())), **change)
    with pytest.raises(ModelRepositoryError, match=message):
        HeatmapCodec.from_metadata(metadata)


def test_codec_for_an_input_size_uses_the_networks_stride_and_size_rule() -> None:
    assert HeatmapCodec.for_input_size(128) == HeatmapCodec(128, 32)
    with pytest.raises(ValueError, match="multiple of 64"):
        HeatmapCodec.for_input_size(96)
