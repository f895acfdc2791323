"""onnxruntime backend: CPU by default, CUDA when the installed onnxruntime offers it and settings allow.

onnxruntime falls back to the CPU without an error when CUDA cannot start (no onnxruntime-gpu, a missing
CUDA or cuDNN library, no driver). A fallback from a CUDA that was asked for, or offered and not used, is
logged as a warning; `devices` holds the providers the session really uses.
"""

import logging
from pathlib import Path

import numpy as np

from runtime.backends.base import BackendError
from runtime.options import OnnxRuntimeOptions

logger = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


# The input element types our models take, as onnxruntime names them.
_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8}


class OnnxRuntimeBackend:
    """A model whose input has a fixed batch size (a detector exported for one image) takes only that size."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, options: OnnxRuntimeOptions) -> None:
        import onnxruntime as ort

        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = options.intra_op_threads
        session_options.inter_op_num_threads = options.inter_op_threads
        cuda_built_in = CUDA_PROVIDER in ort.get_available_providers()
        wants_cuda = options.use_cuda is True or (options.use_cuda is None and cuda_built_in)
        providers = [CUDA_PROVIDER, CPU_PROVIDER] if wants_cuda and cuda_built_in else [CPU_PROVIDER]
        if CUDA_PROVIDER in providers:
            # Loads CUDA and cuDNN from NVIDIA's pip wheels (the gpu extra) before the session looks for them.
            ort.preload_dlls()
        try:
            self._session = ort.InferenceSession(str(model_path), session_options, providers=providers)
        except Exception as error:  # onnxruntime raises its own untyped errors for bad files
            raise BackendError(f"onnxruntime cannot load {model_path.name}: {error}") from error
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._input_type = _INPUT_TYPES.get(model_input.type, np.float32)
        batch = model_input.shape[0]
        self.batch_sizes: tuple[int, ...] | None = (batch,) if isinstance(batch, int) else None
        self.devices: list[str] = self._session.get_providers()
        if wants_cuda and CUDA_PROVIDER not in self.devices:
            if cuda_built_in:
                why = "CUDA did not start (onnxruntime's messages say why: CUDA or cuDNN libraries, driver)"
            else:
                why = "this onnxruntime has no CUDA provider (install the gpu extra, see service/README.md)"
            logger.warning(
                "CUDA was requested for %s but it runs on %s: %s", model_path, ", ".join(self.devices), why
            )

    def infer(self, batch: np.ndarray) -> np.ndarray:
        inputs = {self._input_name: np.ascontiguousarray(batch, dtype=self._input_type)}
        return self._session.run(None, inputs)[0]

    def close(self) -> None:
        del self._session
