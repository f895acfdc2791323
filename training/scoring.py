"""Predict keypoints for annotated persons with any runtime, the way the seed evaluates (framework-free).

Every person is cropped at its annotated centre and scale by core's crop, run through `infer` (and, with
flip test, its mirror), and decoded by core's codec. training.eval passes a MindSpore network; the
quantiser passes the serving backends, so both score with exactly the same crops and decoder.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.codec import HeatmapCodec
from core.mpii import MpiiAnnotations
from training.dataset import crop_batch

# (B, S, S, 3) float32 crops -> (B, J, S/4, S/4) heatmaps of the last stack
LastStack = Callable[[np.ndarray], np.ndarray]


def predict_keypoints(
    last_stack: LastStack,
    annotations: MpiiAnnotations,
    image_dir: Path,
    input_size: int,
    flip: bool = True,
    batch_size: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 16, 2) predictions in 0-based image pixels and (N, 16) peak scores, one row per entry."""
    codec = HeatmapCodec.for_input_size(input_size)
    preds, scores = [], []
    for start in range(0, len(annotations), batch_size):
        indices = range(start, min(start + batch_size, len(annotations)))
        crops = crop_batch(annotations, indices, image_dir, input_size)
        heatmaps = last_stack(crops)
        flipped = last_stack(np.ascontiguousarray(crops[:, :, ::-1])) if flip else None
        decoded = codec.decode(heatmaps, annotations.center[indices], annotations.scale[indices], flipped)
        preds.append(decoded.image_xy)
        scores.append(decoded.scores)
    return np.concatenate(preds), np.concatenate(scores)
