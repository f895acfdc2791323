"""OpenVINO backend: Intel's CPU runtime, which runs NNCF-quantised models in int8 kernels.

It reads `model.onnx`, or an OpenVINO IR (`model.xml` + `model.bin`) when the version has one (the
registry decides which). The inference precision is set explicitly: on CPUs with bfloat16 support
OpenVINO otherwise runs fp32 models in bf16, whose answers differ from onnxruntime's by ~1e-2. One infer
request serves every call, under a lock, because an infer request must not be entered concurrently.

OpenVINO's CPU plugin is built on oneDNN, so the ISA cap that protects MindSpore (runtime.backends.cpu_isa)
caps it too: under ONEDNN_MAX_CPU_ISA=AVX2 an int8 model lost its VNNI kernels and ran 3.3x slower on an
AVX-512 VNNI CPU. The service sets that cap only for the mindspore backend; a cap found in the environment is
logged.
"""

import logging
import os
import threading
from pathlib import Path

import numpy as np

from runtime.backends.base import BackendError
from runtime.backends.cpu_isa import ONEDNN_ISA_VARIABLE
from runtime.options import OpenVinoOptions

logger = logging.getLogger(__name__)

AUTO_THREADS = 0


class OpenVinoBackend:
    """A model whose input has a fixed batch size (a detector exported for one image) takes only that size."""

    name = "openvino"

    def __init__(self, model_path: Path, options: OpenVinoOptions) -> None:
        try:
            import openvino as ov
        except ImportError as error:
            raise BackendError(
                "the openvino backend needs the openvino package (pip install -e '.[serving]')"
            ) from error
        if ONEDNN_ISA_VARIABLE in os.environ:
            logger.warning(
                "%s=%s is set: it caps OpenVINO's CPU kernels too (int8 runs ~3x slower under AVX2 on an "
                "AVX-512 VNNI CPU); it is meant for the mindspore backend only",
                ONEDNN_ISA_VARIABLE,
                os.environ[ONEDNN_ISA_VARIABLE],
            )
        config: dict[str, object] = {
            "PERFORMANCE_HINT": options.performance_hint,
            "INFERENCE_PRECISION_HINT": options.inference_precision,
        }
        if options.threads != AUTO_THREADS:
            config["INFERENCE_NUM_THREADS"] = options.threads
        core = ov.Core()
        try:
            self._compiled = core.compile_model(core.read_model(str(model_path)), options.device, config)
        except RuntimeError as error:  # OpenVINO raises RuntimeError for bad files, devices and options
            raise BackendError(
                f"OpenVINO cannot compile {model_path.name} for {options.device}: {error}"
            ) from error
        # What runs the model: with device AUTO this is the device OpenVINO picked, not "AUTO".
        self.devices: list[str] = [str(d) for d in self._compiled.get_property("EXECUTION_DEVICES")]
        self.model_file = model_path.name
        model_input = self._compiled.input(0)
        batch = model_input.get_partial_shape()[0]
        self.batch_sizes: tuple[int, ...] | None = (batch.get_length(),) if batch.is_static else None
        self._input_type = model_input.get_element_type().to_dtype()
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=self._input_type)
        with self._lock:
            self._request.infer({0: batch})
            return np.array(self._request.get_output_tensor(0).data, copy=True)

    def close(self) -> None:
        with self._lock:
            del self._request
            del self._compiled
