"""Everything the runtime is told, in one frozen object: where the models are, how to run and batch them,
and the limits of one request.

The service builds it from its settings (service.settings.Settings.runtime_options); the command-line tools
and benchmarks build it directly. The defaults here are the service's defaults.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from core.detection import DEFAULT_IOU_THRESHOLD, DEFAULT_SCORE_THRESHOLD
from runtime.gears import DEFAULT_GEARS

AUTO_BACKEND = "auto"
LiteTarget = Literal["ascend", "gpu", "cpu"]
OpenVinoHint = Literal["LATENCY", "THROUGHPUT"]
OpenVinoPrecision = Literal["f32", "bf16", "f16"]
# The device targets MindSpore runs on, named once for the trainer, the evaluator and the backend.
MindSporeTarget = Literal["CPU", "GPU", "Ascend"]
MINDSPORE_TARGETS: tuple[str, ...] = get_args(MindSporeTarget)


@dataclass(frozen=True)
class OnnxRuntimeOptions:
    """`use_cuda`: None uses CUDA when onnxruntime has it, True asks for it, False keeps to the CPU."""

    intra_op_threads: int = 0
    inter_op_threads: int = 1
    use_cuda: bool | None = None


@dataclass(frozen=True)
class OpenVinoOptions:
    """`threads` 0 lets OpenVINO choose; `inference_precision` f32 keeps fp32 models' answers."""

    device: str = "CPU"
    threads: int = 0
    # LATENCY suits the batcher's one inference at a time.
    performance_hint: OpenVinoHint = "LATENCY"
    # OpenVINO's own default on bf16-capable CPUs is bf16, whose answers differ from fp32's by ~1e-2.
    inference_precision: OpenVinoPrecision = "f32"


@dataclass(frozen=True)
class LiteOptions:
    """How to build a Lite model: target device, its id and precision mode, CPU threads, batch gears."""

    target: LiteTarget = "ascend"
    device_id: int = 0
    precision_mode: str = "enforce_fp32"
    cpu_threads: int = 2
    gears: tuple[int, ...] = DEFAULT_GEARS


@dataclass(frozen=True)
class MindSporeOptions:
    device_target: MindSporeTarget = "CPU"


@dataclass(frozen=True)
class BackendOptions:
    """Each runtime's own options; only the chosen backend's are read."""

    onnxruntime: OnnxRuntimeOptions = field(default_factory=OnnxRuntimeOptions)
    openvino: OpenVinoOptions = field(default_factory=OpenVinoOptions)
    lite: LiteOptions = field(default_factory=LiteOptions)
    mindspore: MindSporeOptions = field(default_factory=MindSporeOptions)


@dataclass(frozen=True)
class BatchingOptions:
    """At `max_wait_s` 0 a batch leaves as soon as inference is free; what arrives meanwhile is the next."""

    max_batch: int = 8
    max_wait_s: float = 0.0
    queue_size: int = 64


@dataclass(frozen=True)
class DetectionOptions:
    """How the person detector is asked, when a request gives no persons; each can be set per request.

    `model` None: the only detector served. Boxes scoring below `score_threshold`, narrower or lower than
    `min_size` image pixels, or beyond the `max_persons` best are dropped.
    """

    model: str | None = None
    version: int | None = None
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    max_persons: int = 16
    min_size: float = 16.0


@dataclass(frozen=True)
class RuntimeOptions:
    model_repo: Path = Path("model_repo")
    backend: str = AUTO_BACKEND
    default_model: str | None = None
    repository_poll_s: float = 0.0
    backends: BackendOptions = field(default_factory=BackendOptions)
    batching: BatchingOptions = field(default_factory=BatchingOptions)
    detection: DetectionOptions = field(default_factory=DetectionOptions)
    request_deadline_s: float = 30.0
    max_image_pixels: int = 40_000_000
    max_persons: int = 16
    # Images decoded and cropped at once: each holds up to 8 bytes per pixel while it does.
    max_concurrent_decodes: int = 2
    # Requests drawing their image (render=png) at once, from before decoding until the PNG is made; each
    # keeps its image scaled to at most render_max_side pixels a side, and draws on that.
    max_concurrent_renders: int = 2
    render_max_side: int = 2048
    # Threads that decode keypoints from heatmaps (each takes a share of a request's persons).
    keypoint_threads: int = min(2, os.cpu_count() or 1)
    # Videos and live streams tracked at once: each holds a few decoded frames (its frames in flight).
    max_concurrent_videos: int = 2
