"""The MSRA-style Gaussian heatmap representation of the reference, as one codec object (mmpose style).

`encode` makes training targets, `decode` turns network output into keypoints. Both follow the reference
exactly (docs/reference.md#training-samples, docs/reference.md#decoding), including its integer truncation
of target positions; everything is vectorised over persons and joints.
"""

from concurrent.futures import Executor
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.geometry import crop_to_image_points
from core.hourglass import heatmap_side
from core.joints import FLIP_PERMUTATION
from core.model_repo import ModelMetadata, ModelRepositoryError

FlipRuns = tuple[tuple[slice, slice], ...]


def _permutation_runs(permutation: np.ndarray) -> FlipRuns:
    """The permutation as (target, source) slices of consecutive or reversed indices.

    Copying three strided slices is ~3x faster than np.take with the index array; the MPII flip
    permutation is three runs: 5..0, 6..9, 15..10.
    """
    runs: list[tuple[slice, slice]] = []
    start = 0
    while start < len(permutation):
        end = start + 1
        step = int(permutation[end] - permutation[start]) if end < len(permutation) else 1
        if abs(step) == 1:
            while end < len(permutation) and permutation[end] - permutation[end - 1] == step:
                end += 1
        else:
            step = 1
        first = int(permutation[start])
        stop = first + step * (end - start)
        runs.append((slice(start, end), slice(first, stop if stop >= 0 else None, step)))
        start = end
    return tuple(runs)


# The flip test's crops per person, decoded together: the crop and its mirror image.
FLIP_PAIR_CROPS = 2
# Persons merged and searched together when decoding flip pairs: ~2 MB of 64x64 maps, cache-sized.
_BLOCK = 8


@dataclass(frozen=True)
class DecodedKeypoints:
    """Per person and joint: image coordinates (N, J, 2), scores (N, J), heatmap coordinates (N, J, 2)."""

    image_xy: np.ndarray
    scores: np.ndarray
    heatmap_xy: np.ndarray


@dataclass(frozen=True)
class HeatmapCodec:
    """Gaussian heatmaps for a square `input_size` crop, with `input_size / heatmap_size` stride.

    `flip_permutation[j]` is the joint that a mirrored crop shows where joint j was (MPII's by default).
    """

    input_size: int = 256
    heatmap_size: int = 64
    sigma: float = 1.0
    flip_permutation: tuple[int, ...] = tuple(int(j) for j in FLIP_PERMUTATION)
    _flip_runs: FlipRuns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.input_size % self.heatmap_size:
            raise ValueError(f"input size {self.input_size} is not a multiple of {self.heatmap_size}")
        permutation = tuple(int(j) for j in self.flip_permutation)
        if sorted(permutation) != list(range(len(permutation))):
            raise ValueError(
                f"flip permutation {permutation} is not a permutation of 0..{len(permutation) - 1}"
            )
        object.__setattr__(self, "flip_permutation", permutation)
        object.__setattr__(self, "_flip_runs", _permutation_runs(np.array(permutation)))

    @classmethod
    def from_metadata(cls, metadata: ModelMetadata) -> "HeatmapCodec":
        """The codec of an exported model: its input and heatmap sizes and its flip permutation.

        Raises ModelRepositoryError when the metadata describes what the codec cannot decode: a non-square
        input or heatmap, or a flip permutation that does not permute the model's joints.
        """
        spec, output = metadata.input, metadata.output
        if spec.width != spec.height or output.heatmap_width != output.heatmap_height:
            raise ModelRepositoryError("only square inputs and heatmaps are supported")
        if len(metadata.flip_permutation) != output.num_joints:
            raise ModelRepositoryError(
                f"the flip permutation has {len(metadata.flip_permutation)} entries "
                f"for {output.num_joints} joints"
            )
        try:
            return cls(spec.height, output.heatmap_height, flip_permutation=metadata.flip_permutation)
        except ValueError as error:
            raise ModelRepositoryError(str(error)) from error

    @classmethod
    def for_input_size(cls, input_size: int) -> "HeatmapCodec":
        """The codec of our network at a square input side (no exported metadata yet, as in training)."""
        return cls(input_size, heatmap_side(input_size))

    @property
    def stride(self) -> int:
        return self.input_size // self.heatmap_size

    @property
    def kernel_radius(self) -> int:
        return int(3 * self.sigma + 1)

    def encode(self, keypoints: np.ndarray) -> np.ndarray:
        """Target heatmaps (..., J, H, W) float32 from keypoints (..., J, 2) in heatmap pixels.

        As in the reference a joint is drawn only when x > 0 and its int-truncated position lies on the
        map; the Gaussian (peak 1.0) is cut to a (2r+1)² window around that position. A joint that is not
        annotated must therefore be given as (0, 0) or a negative x.
        """
        keypoints = np.asarray(keypoints, dtype=np.float64)
        size = self.heatmap_size
        position = np.trunc(keypoints).astype(np.int64)
        drawn = (keypoints[..., 0] > 0) & np.all((position >= 0) & (position < size), axis=-1)
        grid = np.arange(size)
        dx = grid - position[..., 0, None]
        dy = grid - position[..., 1, None]
        radius = self.kernel_radius
        gauss_x = np.where(np.abs(dx) <= radius, np.exp(-(dx**2) / (2 * self.sigma**2)), 0.0)
        gauss_y = np.where(np.abs(dy) <= radius, np.exp(-(dy**2) / (2 * self.sigma**2)), 0.0)
        heatmaps = gauss_y[..., :, None] * gauss_x[..., None, :]
        return (heatmaps * drawn[..., None, None]).astype(np.float32)

    def merge_flip(
        self, heatmaps: np.ndarray, flipped_heatmaps: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Average (N, J, H, W) heatmaps with those of the mirrored crop, mirrored back; clip at 1.

        OpenCV's SIMD kernels do the mirror, the average and the clip in place; (a + b) / 2 in float32
        equals 0.5 * a + 0.5 * b exactly, so the result is the reference's to the bit. `out` (same shape,
        float32) saves allocating the result.
        """
        flipped_heatmaps = np.asarray(flipped_heatmaps, dtype=np.float32)
        n, j, h, w = flipped_heatmaps.shape
        if j != len(self.flip_permutation):
            raise ValueError(
                f"{j} heatmaps per person, but the flip permutation has {len(self.flip_permutation)}"
            )
        merged = np.empty((n, j, h, w), np.float32) if out is None else out
        for target, source in self._flip_runs:
            merged[:, target] = flipped_heatmaps[:, source]
        rows = merged.reshape(n * j * h, w)
        cv2.flip(rows, 1, dst=rows)
        own = np.ascontiguousarray(heatmaps, dtype=np.float32).reshape(rows.shape)
        cv2.addWeighted(own, 0.5, rows, 0.5, 0.0, dst=rows)
        cv2.threshold(rows, 1.0, 1.0, cv2.THRESH_TRUNC, dst=rows)
        return merged

    @staticmethod
    def locate_peaks(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sub-pixel peak (x, y) in heatmap pixels (N, J, 2) and its value (N, J).

        3x3 max-pool NMS, first arg-max, then a quarter-pixel step towards the larger neighbour (strict >,
        indices clamped), plus 0.5. As in the reference the step and the +0.5 are skipped when the peak
        value is not positive.
        """
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        n, j, h, w = heatmaps.shape
        peaks = _Peaks.find(heatmaps.reshape(n * j, h, w))
        xy, scores = peaks.refine()
        return xy.reshape(n, j, 2), scores.reshape(n, j)

    def decode(
        self,
        heatmaps: np.ndarray,
        centers: np.ndarray,
        scales: np.ndarray,
        flipped_heatmaps: np.ndarray | None = None,
        truncate: bool = False,
        helpers: tuple[Executor, int] | None = None,
    ) -> DecodedKeypoints:
        """Keypoints in original-image pixels for N persons cropped at (centers, scales).

        `flipped_heatmaps` are the raw outputs for the mirrored crops (flip test). `truncate=True`
        reproduces the reference's int-truncated coordinates; keep it off for real use. `helpers` (an
        executor and its number of threads) lets flip pairs be decoded on that many more threads, each
        taking a share of the persons: their OpenCV and numpy calls release the GIL (64 flip pairs on 2
        cores: ~5.5 -> ~3.7 ms). The caller owns the executor; without one, all runs on the calling thread.
        """
        if flipped_heatmaps is None:
            heatmap_xy, scores = self.locate_peaks(heatmaps)
        else:
            n, j = heatmaps.shape[:2]
            heatmap_xy, scores = _find_flip_pair_peaks(self, heatmaps, flipped_heatmaps, helpers).refine()
            heatmap_xy, scores = heatmap_xy.reshape(n, j, 2), scores.reshape(n, j)
        crop_xy = heatmap_xy * self.stride
        image_xy = crop_to_image_points(crop_xy, centers, scales, self.input_size)
        if truncate:
            image_xy = np.trunc(image_xy)
        return DecodedKeypoints(image_xy=image_xy, scores=scores, heatmap_xy=heatmap_xy)


@dataclass(frozen=True)
class _Peaks:
    """Per map: first arg-max (M,), its value, and its 4 neighbours' values (M, 4: x+1, x-1, y+1, y-1)."""

    index: np.ndarray
    scores: np.ndarray
    neighbours: np.ndarray
    width: int

    @classmethod
    def find(cls, maps: np.ndarray) -> "_Peaks":
        count, h, w = maps.shape
        flat = maps.reshape(count, h * w)
        index = flat.argmax(axis=-1)
        # Positions in the flattened block, so that one fancy index gathers values of every map at once.
        values = flat.reshape(-1)
        map_starts = np.arange(0, count * h * w, h * w)
        scores = values[map_starts + index]
        # A positive global maximum is its own 3x3 maximum, so NMS cannot move the first arg-max;
        # only maps whose maximum is <= 0 need the suppressed map (its zeros may then win).
        needs_nms = scores <= 0
        if needs_nms.any():
            suppressed = _suppress_non_maxima(maps[needs_nms]).reshape(-1, h * w)
            index[needs_nms] = suppressed.argmax(axis=-1)
            scores[needs_nms] = suppressed[np.arange(len(suppressed)), index[needs_nms]]
        at = map_starts + index
        y, x = np.divmod(index, w)
        # Neighbours x+1, x-1, y+1, y-1 of the unsuppressed map, clamped at the border (to the peak itself).
        around = np.stack([at + (x < w - 1), at - (x > 0), at + w * (y < h - 1), at - w * (y > 0)], axis=-1)
        return cls(index=index, scores=scores, neighbours=values[around], width=w)

    @classmethod
    def concatenate(cls, parts: list["_Peaks"]) -> "_Peaks":
        return cls(
            index=np.concatenate([part.index for part in parts]),
            scores=np.concatenate([part.scores for part in parts]),
            neighbours=np.concatenate([part.neighbours for part in parts]),
            width=parts[0].width,
        )

    def refine(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) with the quarter-pixel step and +0.5 where the score is positive, and the scores."""
        y, x = np.divmod(self.index, self.width)
        step_x = np.where(self.neighbours[:, 0] > self.neighbours[:, 1], 0.25, -0.25)
        step_y = np.where(self.neighbours[:, 2] > self.neighbours[:, 3], 0.25, -0.25)
        xy = np.stack([x, y], axis=-1).astype(np.float64)
        xy += np.where((self.scores > 0)[:, None], np.stack([step_x, step_y], axis=-1) + 0.5, 0.0)
        return xy, self.scores


def _find_flip_pair_peaks(
    codec: HeatmapCodec,
    heatmaps: np.ndarray,
    flipped_heatmaps: np.ndarray,
    helpers: tuple[Executor, int] | None,
) -> _Peaks:
    """Peaks of the merged flip pairs; the helper threads share the persons when there are enough of them."""
    n = len(heatmaps)
    shares = 1 + (helpers[1] if helpers else 0)
    shares = min(shares, n // _BLOCK)
    if helpers is None or shares < 2:
        return _merge_and_find(codec, heatmaps, flipped_heatmaps)
    # Split on block boundaries, so that each thread's blocks stay whole.
    share = -(-n // (shares * _BLOCK)) * _BLOCK
    starts = range(share, n, share)
    others = [
        helpers[0].submit(_merge_and_find, codec, heatmaps[s : s + share], flipped_heatmaps[s : s + share])
        for s in starts
    ]
    first = _merge_and_find(codec, heatmaps[:share], flipped_heatmaps[:share])
    return _Peaks.concatenate([first, *(other.result() for other in others)])


def _merge_and_find(codec: HeatmapCodec, heatmaps: np.ndarray, flipped_heatmaps: np.ndarray) -> _Peaks:
    """A few persons at a time into one reused buffer, so that the merged maps are still in cache when
    their peaks are found, and no large array is allocated per block."""
    n = len(heatmaps)
    buffer = np.empty((min(n, _BLOCK), *heatmaps.shape[1:]), np.float32)
    blocks = []
    for start in range(0, max(n, 1), _BLOCK):
        own, mirrored = heatmaps[start : start + _BLOCK], flipped_heatmaps[start : start + _BLOCK]
        merged = codec.merge_flip(own, mirrored, out=buffer[: len(own)])
        blocks.append(_Peaks.find(merged.reshape(-1, *merged.shape[2:])))
    return _Peaks.concatenate(blocks)


def _suppress_non_maxima(maps: np.ndarray) -> np.ndarray:
    """Zero every value of (M, H, W) maps that is below the maximum of its 3x3 neighbourhood."""
    padded = np.pad(maps, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    return np.where(maps == windows.max(axis=(-2, -1)), maps, np.float32(0))
