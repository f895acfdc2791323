"""The one small interface every runtime backend implements."""

from typing import Protocol

import numpy as np


class BackendError(RuntimeError):
    """A backend cannot be created (package missing, no device, unloadable model) or failed to run."""


class Backend(Protocol):
    """Runs the exported network: NHWC float32 crops (N, H, W, 3) -> heatmaps (N, nstack, J, H/4, W/4).

    Implementations may assume calls come one at a time from the batcher's single inference thread, but
    must still be safe if called concurrently (the Lite runtime is not, so it locks).
    """

    name: str
    # What actually runs the model, as the runtime reports it (onnxruntime's providers, OpenVINO's
    # execution devices): a request for a GPU that fell back to the CPU shows here.
    devices: list[str]

    def infer(self, batch: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...
