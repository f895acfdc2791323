"""onnxruntime backend: CPU by default, CUDA when the installed onnxruntime offers it and settings allow."""

from pathlib import Path

import numpy as np

from service.backends.base import BackendError

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class OnnxRuntimeBackend:
    name = "onnxruntime"
    batch_sizes = None

    def __init__(
        self, model_path: Path, intra_op_threads: int, inter_op_threads: int, use_cuda: bool
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = inter_op_threads
        providers = [CPU_PROVIDER]
        if use_cuda and CUDA_PROVIDER in ort.get_available_providers():
            providers.insert(0, CUDA_PROVIDER)
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=providers)
        except Exception as error:  # onnxruntime raises its own untyped errors for bad files
            raise BackendError(f"onnxruntime cannot load {model_path.name}: {error}") from error
        self._input_name = self._session.get_inputs()[0].name
        self.providers: list[str] = self._session.get_providers()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]

    def close(self) -> None:
        del self._session
