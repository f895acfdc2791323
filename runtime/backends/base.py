"""The one small interface every runtime backend implements."""

from typing import Protocol

import numpy as np


class BackendError(RuntimeError):
    """A backend cannot be created (package missing, no device, unloadable model) or failed to run."""


class Backend(Protocol):
    """Runs the exported network: NHWC float32 crops (N, H, W, 3) -> heatmaps (N, nstack, J, H/4, W/4).

    Implementations may assume calls come one at a time from the batcher's single inference thread, but
    must still be safe if called concurrently (the Lite runtime is not, so it locks).

    `batch_sizes` lists the only batch sizes `infer` takes (Lite's gears on Ascend and GPU), None for any:
    the batcher pads a batch up to the smallest of them that holds it.
    """

    name: str
    batch_sizes: tuple[int, ...] | None
    # What actually runs the model, as the runtime reports it (onnxruntime's providers, OpenVINO's
    # execution devices): a request for a GPU that fell back to the CPU shows here.
    devices: list[str]

    def infer(self, batch: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...
