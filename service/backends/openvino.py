"""OpenVINO backend: Intel's CPU runtime, which runs NNCF-quantised models in int8 kernels.

It reads `model.onnx`, or an OpenVINO IR (`model.xml` + `model.bin`) when the version has one (the
registry decides which). The inference precision is set explicitly: on CPUs with bfloat16 support
OpenVINO otherwise runs fp32 models in bf16, whose answers differ from onnxruntime's by ~1e-2. One infer
request serves every call, under a lock, because an infer request must not be entered concurrently.
"""

import threading
from pathlib import Path

import numpy as np

from service.backends.base import BackendError

AUTO_THREADS = 0


class OpenVinoBackend:
    name = "openvino"
    batch_sizes: tuple[int, ...] | None = None

    def __init__(
        self, model_path: Path, device: str, threads: int, performance_hint: str, inference_precision: str
    ) -> None:
        try:
            import openvino as ov
        except ImportError as error:
            raise BackendError(
                "the openvino backend needs the openvino package (pip install -e '.[openvino]')"
            ) from error
        config: dict[str, object] = {
            "PERFORMANCE_HINT": performance_hint,
            "INFERENCE_PRECISION_HINT": inference_precision,
        }
        if threads != AUTO_THREADS:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        try:
            self._compiled = core.compile_model(core.read_model(str(model_path)), device, config)
        except RuntimeError as error:  # OpenVINO raises RuntimeError for bad files, devices and options
            raise BackendError(f"OpenVINO cannot compile {model_path.name} for {device}: {error}") from error
        # What runs the model: with device AUTO this is the device OpenVINO picked, not "AUTO".
        self.devices: list[str] = [str(d) for d in self._compiled.get_property("EXECUTION_DEVICES")]
        self.model_file = model_path.name
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            self._request.infer({0: batch})
            return np.array(self._request.get_output_tensor(0).data, copy=True)

    def close(self) -> None:
        with self._lock:
            del self._request
            del self._compiled
