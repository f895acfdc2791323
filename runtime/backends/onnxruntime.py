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


class OnnxRuntimeBackend:
    name = "onnxruntime"
    batch_sizes: tuple[int, ...] | None = None

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
        self._input_name = self._session.get_inputs()[0].name
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
        return self._session.run(None, {self._input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]

    def close(self) -> None:
        del self._session
