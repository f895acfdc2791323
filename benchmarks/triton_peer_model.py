"""The Triton peer's model: our pipeline as a Triton Python-backend model, to measure the service against.

benchmarks/triton_peer.py installs this file as `model.py` of a Triton model repository and runs it in
Triton's Python backend stub, in the peer's own environment (Python 3.12, numpy < 2; see
benchmarks/triton_peer.md). It imports nothing of the service, only core/, and does what the service does
for a request: decode the image file with Pillow (EXIF orientation applied), turn each person box into
MPII centre and scale, crop with core's tiled crop from float32 windows, x pixel_scale, add the mirrored
crop, run the network (onnxruntime or OpenVINO on the CPU, configured as the service's backends) in
batches of at most `max_batch` crops, and decode the last stack with core's codec, flip merge included.

Inputs are the Open Inference Protocol tensors of the service's model, with Triton's batch dimension in
front: IMAGE (BYTES [B, 1]), BOXES (FP32 [B, P, 4], optional: the whole image, as the peer has no person
detector), FLIP (BOOL [B, 1], optional: true); outputs KEYPOINTS (FP32 [B, P, 16, 3]: x, y, score) and
PERSON_BOXES (FP32 [B, P, 4]). Every setting comes from the model configuration's parameters, which the
benchmark fills from the service's own settings.
"""

import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils
from PIL import Image, ImageOps

from core.codec import HeatmapCodec
from core.geometry import box_to_center_scale, crop_image_tiled
from core.model_repo import read_metadata

Runner = Callable[[np.ndarray], np.ndarray]


def onnxruntime_runner(model_file: Path, intra_op_threads: int, inter_op_threads: int) -> Runner:
    """A CPU session set up as runtime/backends/onnxruntime.py sets it up (thread counts only)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {input_name: batch})[0]


def openvino_runner(model_file: Path, device: str, threads: int, hint: str, precision: str) -> Runner:
    """A compiled model configured as runtime/backends/openvino.py configures it."""
    import openvino as ov

    config: dict[str, object] = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": precision}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    core = ov.Core()
    request = core.compile_model(core.read_model(str(model_file)), device, config).create_infer_request()

    def run(batch: np.ndarray) -> np.ndarray:
        request.infer({0: batch})
        return np.array(request.get_output_tensor(0).data, copy=True)

    return run


@dataclass(frozen=True)
class Prepared:
    """One request's persons: boxes, MPII centres and scales, and its crops (with mirrors when flip)."""

    boxes: np.ndarray
    centers: np.ndarray
    scales: np.ndarray
    crops: np.ndarray
    flip: bool


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        parameters = json.loads(args["model_config"])["parameters"]
        setting = {key: value["string_value"] for key, value in parameters.items()}
        version_dir = Path(setting["version_dir"])
        metadata = read_metadata(version_dir)
        self.codec = HeatmapCodec.from_metadata(metadata)
        self.size = metadata.input.height
        self.pixel_scale = np.float32(metadata.input.pixel_scale)
        self.max_batch = int(setting["max_batch"])
        self.window_pixels = int(setting["crop_window_pixels"])
        self.max_pixels = int(setting["max_image_pixels"])
        self.decoders = ThreadPoolExecutor(int(setting["decode_threads"]), thread_name_prefix="decode")
        # As the service: keypoint_threads in all decode flip pairs, the calling thread and its helpers.
        helper_threads = int(setting["keypoint_threads"]) - 1
        self.keypoint_helpers = (
            (ThreadPoolExecutor(helper_threads, thread_name_prefix="keypoints"), helper_threads)
            if helper_threads > 0
            else None
        )
        model_file = version_dir / setting["model_file"]
        if setting["runtime"] == "onnxruntime":
            self.run = onnxruntime_runner(
                model_file, int(setting["ort_intra_op_threads"]), int(setting["ort_inter_op_threads"])
            )
        else:
            self.run = openvino_runner(
                model_file,
                setting["openvino_device"],
                int(setting["openvino_threads"]),
                setting["openvino_performance_hint"],
                setting["openvino_inference_precision"],
            )
        self.run(np.zeros((2, self.size, self.size, 3), np.float32))  # warm-up, as the service's loader

    def prepare(self, request: Any) -> Prepared:
        """Decode, boxes, crops: a request's CPU work before inference. ValueError for bad input."""
        (data,) = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy().reshape(-1)
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > self.max_pixels:
                raise ValueError(f"the image has more pixels than the limit of {self.max_pixels}")
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        except (OSError, SyntaxError, Image.DecompressionBombError) as error:
            raise ValueError(f"the image cannot be decoded: {error}") from error
        boxes_tensor = pb_utils.get_input_tensor_by_name(request, "BOXES")
        whole_image = np.array([[0, 0, image.width, image.height]], np.float32)
        boxes = whole_image if boxes_tensor is None else boxes_tensor.as_numpy().reshape(-1, 4)
        flip_tensor = pb_utils.get_input_tensor_by_name(request, "FLIP")
        flip = True if flip_tensor is None else bool(flip_tensor.as_numpy().reshape(-1)[0])
        regions = [box_to_center_scale(box) for box in boxes]

        def read_window(left: int, top: int, right: int, bottom: int) -> np.ndarray:
            window = image.crop((left, top, right, bottom))
            return np.asarray(window if window.mode == "RGB" else window.convert("RGB")).astype(np.float32)

        crops = np.empty((len(boxes), 2 if flip else 1, self.size, self.size, 3), np.float32)
        for person, (center, scale) in enumerate(regions):
            crops[person, 0] = crop_image_tiled(
                read_window, (image.height, image.width), center, scale, self.size, self.window_pixels
            )
        crops[:, 0] *= self.pixel_scale
        if flip:
            crops[:, 1] = crops[:, 0, :, ::-1]
        return Prepared(
            boxes=boxes.astype(np.float32),
            centers=np.stack([center for center, _ in regions]),
            scales=np.array([scale for _, scale in regions]),
            crops=crops.reshape(-1, self.size, self.size, 3),
            flip=flip,
        )

    def infer(self, crops: np.ndarray) -> np.ndarray:
        """Last-stack heatmaps of every crop, in inferences of at most max_batch crops."""
        outputs = [
            self.run(crops[start : start + self.max_batch]) for start in range(0, len(crops), self.max_batch)
        ]
        return np.concatenate(outputs)[:, -1]

    def respond(self, prepared: Prepared, heatmaps: np.ndarray) -> Any:
        persons = len(prepared.boxes)
        pairs = heatmaps.reshape(persons, 2 if prepared.flip else 1, *heatmaps.shape[1:])
        flipped = pairs[:, 1] if prepared.flip else None
        found = self.codec.decode(
            pairs[:, 0],
            prepared.centers,
            prepared.scales,
            flipped_heatmaps=flipped,
            helpers=self.keypoint_helpers,
        )
        keypoints = np.concatenate([found.image_xy, found.scores[..., None]], axis=-1).astype(np.float32)
        return pb_utils.InferenceResponse(
            output_tensors=[
                pb_utils.Tensor("KEYPOINTS", keypoints[None]),
                pb_utils.Tensor("PERSON_BOXES", prepared.boxes[None]),
            ]
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        """A batch of requests: each prepared on the decode threads, all crops inferred together."""

        def attempt(request: Any) -> Prepared | str:
            try:
                return self.prepare(request)
            except ValueError as error:
                return str(error)

        prepared = list(self.decoders.map(attempt, requests))
        good = [p for p in prepared if isinstance(p, Prepared)]
        heatmaps = self.infer(np.concatenate([p.crops for p in good])) if good else None
        responses, start = [], 0
        for item in prepared:
            if isinstance(item, str):
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(item)))
                continue
            assert heatmaps is not None
            responses.append(self.respond(item, heatmaps[start : start + len(item.crops)]))
            start += len(item.crops)
        return responses

    def finalize(self) -> None:
        self.decoders.shutdown()
        if self.keypoint_helpers is not None:
            self.keypoint_helpers[0].shutdown()
