"""The bare network through the model's batcher: crops a caller made in the metadata's layout in, the
network's heatmaps out (every stack), for callers who crop and decode themselves.

Each crop is its own batcher group, so a caller's crops share batches with everyone else's requests; the
queue room for all of them is reserved before any is queued, as for an image's crops.
"""

import numpy as np

from runtime.errors import InvalidInputError
from runtime.pipeline.pose import submit_groups
from runtime.repository.version import LoadedModel


def check_crops(model: LoadedModel, crops: np.ndarray) -> None:
    """InvalidInputError unless `crops` is (N >= 1, H, W, 3) float32 in the version's input size."""
    spec = model.metadata.input
    expected = (spec.height, spec.width, 3)
    if crops.ndim != 4 or crops.shape[1:] != expected or not len(crops):
        raise InvalidInputError(
            f"crops must have shape [N >= 1, {spec.height}, {spec.width}, 3] ({spec.layout}, {spec.color} "
            f"pixel values x {spec.pixel_scale:.6g}) for {model.label}, got {list(crops.shape)}"
        )
    if crops.dtype != np.float32:
        raise InvalidInputError(f"crops must be float32, got {crops.dtype}")


async def run_network(model: LoadedModel, crops: np.ndarray, deadline: float) -> np.ndarray:
    """The network's output (N, nstack, joints, H/4, W/4) for checked crops, by `deadline` (loop clock)."""
    reservation = model.batcher.reserve(len(crops))
    try:
        results = await submit_groups(
            model, [crops[i : i + 1] for i in range(len(crops))], deadline, reservation
        )
    finally:
        model.batcher.release(reservation)
    return np.concatenate([result.output for result in results])
