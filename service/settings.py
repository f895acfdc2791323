"""Every tunable of the service in one typed object, read from HGPOSE_* environment variables."""

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.codec import FLIP_PAIR_CROPS
from runtime.backends.registry import BACKEND_CHOICES
from runtime.gears import check_gears
from runtime.options import (
    BackendOptions,
    BatchingOptions,
    DetectionOptions,
    LiteOptions,
    LiteTarget,
    MindSporeOptions,
    MindSporeTarget,
    OnnxRuntimeOptions,
    OpenVinoHint,
    OpenVinoOptions,
    OpenVinoPrecision,
    RuntimeOptions,
)
from runtime.video.decode import VideoLimits
from runtime.video.orchestrator import VideoPoseOptions
from runtime.video.smoothing import OneEuroOptions
from runtime.video.tracking import Similarity, TrackingOptions

LogLevel = Literal["debug", "info", "warning", "error"]

LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
# The runtime's defaults are the service's: each setting below that the runtime reads takes its default here.
_RUNTIME = RuntimeOptions()
_ORT, _OPENVINO, _LITE = _RUNTIME.backends.onnxruntime, _RUNTIME.backends.openvino, _RUNTIME.backends.lite
_BATCHING = _RUNTIME.batching
_DETECTION = _RUNTIME.detection
_VIDEO_LIMITS, _VIDEO = VideoLimits(), VideoPoseOptions()
_TRACKING, _SMOOTHING = _VIDEO.tracking, _VIDEO.smoothing
# Time a request's line and headers get (uvicorn has no such deadline; service.server adds it).
HEADER_TIMEOUT_S = 10.0
DEFAULT_MAX_HEADER_BYTES = 16 * 1024


class Settings(BaseSettings):
    """Service configuration; `HGPOSE_MAX_BATCH=8` sets `max_batch` and so on."""

    model_config = SettingsConfigDict(env_prefix="HGPOSE_", extra="ignore")

    model_repo: Path = _RUNTIME.model_repo
    default_model: str | None = Field(
        default=None, description="model used when a request names none (default: the only one served)"
    )
    backend: str = Field(default=_RUNTIME.backend, description=f"one of {', '.join(BACKEND_CHOICES)}")
    repository_poll_s: float = Field(
        default=_RUNTIME.repository_poll_s,
        ge=0,
        description="seconds between scans of model_repo for new, changed or removed versions (0: off)",
    )

    ort_intra_op_threads: int = Field(
        default=_ORT.intra_op_threads, ge=0, description="0 lets onnxruntime choose"
    )
    ort_inter_op_threads: int = Field(default=_ORT.inter_op_threads, ge=0)
    ort_use_cuda: bool | None = Field(
        default=_ORT.use_cuda,
        description="unset: CUDA when the installed onnxruntime has it; true: ask for CUDA (a fallback to "
        "the CPU is logged as a warning); false: CPU only",
    )

    openvino_device: str = Field(default=_OPENVINO.device, description="OpenVINO device: CPU, GPU, AUTO, ...")
    openvino_threads: int = Field(
        default=_OPENVINO.threads, ge=0, description="inference threads; 0 lets OpenVINO choose"
    )
    openvino_performance_hint: OpenVinoHint = Field(
        default=_OPENVINO.performance_hint, description="LATENCY suits the batcher's one inference at a time"
    )
    openvino_inference_precision: OpenVinoPrecision = Field(
        default=_OPENVINO.inference_precision,
        description="f32 keeps fp32 models' answers; OpenVINO's own default on bf16-capable CPUs is bf16",
    )

    lite_target: LiteTarget = _LITE.target
    lite_device_id: int = Field(default=_LITE.device_id, ge=0)
    lite_precision_mode: str = _LITE.precision_mode
    lite_cpu_threads: int = Field(default=_LITE.cpu_threads, ge=0)
    lite_batch_gears: Annotated[tuple[int, ...], NoDecode] = Field(
        default=_LITE.gears,
        description=f"batch sizes Lite declares on Ascend/GPU ({FLIP_PAIR_CROPS} always added; each <= 2048)",
    )

    mindspore_device_target: MindSporeTarget = _RUNTIME.backends.mindspore.device_target

    detector: str | None = Field(
        default=_DETECTION.model,
        description="detector model a request without persons uses (default: the only one)",
    )
    detect_score_threshold: float = Field(
        default=_DETECTION.score_threshold,
        ge=0,
        le=1,
        description="detections scoring below this are dropped",
    )
    detect_iou_threshold: float = Field(
        default=_DETECTION.iou_threshold,
        gt=0,
        le=1,
        description="NMS: a box overlapping a better one more goes",
    )
    detect_max_persons: int = Field(
        default=_DETECTION.max_persons,
        ge=1,
        description="most persons kept from one image (at most max_persons)",
    )
    detect_min_size: float = Field(
        default=_DETECTION.min_size,
        ge=0,
        description="boxes narrower or lower than this many pixels are dropped",
    )

    max_batch: int = Field(
        default=_BATCHING.max_batch, ge=1, description="most crops (flip copies included) per inference"
    )
    max_wait_ms: float = Field(
        default=_BATCHING.max_wait_s * 1000,
        ge=0,
        description="how long a batch waits to fill up; at 0 it leaves when inference is free, and what "
        "arrives meanwhile forms the next batch",
    )
    queue_size: int = Field(
        default=_BATCHING.queue_size, ge=1, description="most crops waiting for inference per model"
    )
    request_deadline_ms: float = Field(default=_RUNTIME.request_deadline_s * 1000, gt=0)
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After of a 503 for a full queue")

    api_key: str | None = Field(default=None, description="when set, /v1/* needs 'Authorization: Bearer KEY'")
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=_RUNTIME.max_image_pixels, ge=1)
    max_persons: int = Field(default=_RUNTIME.max_persons, ge=1)
    max_concurrent_decodes: int = Field(
        default=_RUNTIME.max_concurrent_decodes,
        ge=1,
        description="images decoded and cropped at once (each up to 8 bytes per pixel)",
    )

    max_concurrent_renders: int = Field(
        default=_RUNTIME.max_concurrent_renders,
        ge=1,
        description="render=png requests past admission at once (from before decoding to the PNG)",
    )
    render_max_side: int = Field(
        default=_RUNTIME.render_max_side,
        ge=16,
        description="longest side of a render=png image; larger images are scaled down to it",
    )

    keypoint_threads: int = Field(
        default=_RUNTIME.keypoint_threads,
        ge=1,
        description="threads that decode keypoints from heatmaps, each taking a share of the persons",
    )

    video_max_bytes: int = Field(
        default=_VIDEO_LIMITS.max_bytes, ge=1, description="request body limit of POST /v1/pose/video (413)"
    )
    video_body_timeout_s: float = Field(
        default=300.0, gt=0, description="a video upload must arrive within this after its headers (408)"
    )
    video_max_duration_s: float = Field(default=_VIDEO_LIMITS.max_duration_s, gt=0)
    video_max_frames: int = Field(default=_VIDEO_LIMITS.max_frames, ge=1)
    video_max_side: int = Field(default=_VIDEO_LIMITS.max_side, ge=1, description="pixels, width or height")
    video_max_pixels: int = Field(default=_VIDEO_LIMITS.max_pixels, ge=1, description="pixels per frame")
    max_concurrent_videos: int = Field(
        default=_RUNTIME.max_concurrent_videos,
        ge=1,
        description="videos and live streams tracked at once (503 above); each holds a few decoded frames",
    )
    video_frames_in_flight: int = Field(
        default=_VIDEO.max_frames_in_flight,
        ge=1,
        description="frames of one video estimated at once, so that their crops share batches",
    )
    stream_max_frame_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1, description="largest encoded frame a live stream may send"
    )
    stream_idle_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="a live stream that sends no frame for this long is closed (it holds a slot)",
    )

    track_detect_every: int = Field(
        default=_TRACKING.detect_every, ge=1, description="the detector runs on every N-th frame"
    )
    track_max_missed_frames: int = Field(
        default=_TRACKING.max_missed_frames, ge=0, description="a track unseen for more frames ends"
    )
    track_weak_score: float = Field(
        default=_TRACKING.weak_track_score,
        ge=0,
        le=1,
        description="a track whose mean joint score falls below this calls the detector on the next frame",
    )
    track_min_pose_score: float = Field(
        default=_TRACKING.min_pose_score, ge=0, le=1, description="a pose scoring below this is no person"
    )
    track_joint_score: float = Field(
        default=_TRACKING.joint_score_threshold,
        ge=0,
        le=1,
        description="joints scoring this much count for a track's next box and for OKS",
    )
    track_similarity: Similarity = Field(
        default=_TRACKING.similarity, description="how poses are matched to tracks: oks or iou"
    )
    track_min_similarity: float = Field(
        default=_TRACKING.min_similarity, ge=0, le=1, description="a pose less like a track is not its"
    )
    smooth: bool = Field(default=True, description="One-Euro smoothing of the tracks' joints")
    smooth_min_cutoff_hz: float = Field(default=_SMOOTHING.min_cutoff_hz, gt=0)
    smooth_beta: float = Field(default=_SMOOTHING.beta, ge=0)
    smooth_d_cutoff_hz: float = Field(default=_SMOOTHING.d_cutoff_hz, gt=0)

    max_header_bytes: int = Field(
        default=DEFAULT_MAX_HEADER_BYTES,
        ge=1024,
        description="request line and headers, however they arrive (431 and the connection closed above)",
    )
    header_timeout_s: float = Field(
        default=HEADER_TIMEOUT_S,
        gt=0,
        description="a request's line and headers must arrive within this (else closed)",
    )
    body_timeout_s: float = Field(
        default=20.0, gt=0, description="a request's body must arrive within this after its headers (408)"
    )
    keep_alive_timeout_s: int = Field(default=5, ge=1, description="idle keep-alive connections close after")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    grpc_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="port of the Open Inference Protocol over gRPC, on the same host (0 or empty: no gRPC)",
    )
    log_level: LogLevel = "info"
    graceful_shutdown_s: int = Field(
        default=30, ge=0, description="seconds in-flight requests get on SIGTERM"
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKEND_CHOICES:
            raise ValueError(f"unknown backend {value!r}: choose one of {', '.join(BACKEND_CHOICES)}")
        return value

    @field_validator("grpc_port", mode="before")
    @classmethod
    def _empty_port_means_off(cls, value: object) -> object:
        """`HGPOSE_GRPC_PORT=` (as compose passes an unset variable) leaves gRPC off."""
        return 0 if value == "" else value

    @field_validator("api_key")
    @classmethod
    def _empty_key_means_none(cls, value: str | None) -> str | None:
        """`HGPOSE_API_KEY=` (as compose passes an unset variable) turns authentication off."""
        return value or None

    @field_validator("lite_batch_gears", mode="before")
    @classmethod
    def _gears_from_text(cls, value: object) -> tuple[int, ...]:
        """`HGPOSE_LITE_BATCH_GEARS=1,2,4,8`: sorted, distinct, with the flip pair, each in 1..2048."""
        if isinstance(value, str):
            value = [part for part in value.replace(" ", "").split(",") if part]
        if not isinstance(value, list | tuple):
            raise ValueError("lite_batch_gears is a comma-separated list of batch sizes, e.g. 1,2,4,8")
        return check_gears([int(g) for g in value])

    @model_validator(mode="after")
    def _queue_holds_a_request(self) -> "Settings":
        """A request that can never fit in the queue would be refused forever: reject such settings."""
        if self.queue_size < FLIP_PAIR_CROPS * self.max_persons:
            raise ValueError(
                f"queue_size ({self.queue_size}) must hold the largest request: {FLIP_PAIR_CROPS} crops "
                f"(flip) x max_persons ({self.max_persons})"
            )
        return self

    def runtime_options(self) -> RuntimeOptions:
        """What the runtime is told: every setting it reads, in its own types."""
        return RuntimeOptions(
            model_repo=self.model_repo,
            backend=self.backend,
            default_model=self.default_model,
            repository_poll_s=self.repository_poll_s,
            backends=BackendOptions(
                onnxruntime=OnnxRuntimeOptions(
                    self.ort_intra_op_threads, self.ort_inter_op_threads, self.ort_use_cuda
                ),
                openvino=OpenVinoOptions(
                    self.openvino_device,
                    self.openvino_threads,
                    self.openvino_performance_hint,
                    self.openvino_inference_precision,
                ),
                lite=LiteOptions(
                    self.lite_target,
                    self.lite_device_id,
                    self.lite_precision_mode,
                    self.lite_cpu_threads,
                    self.lite_batch_gears,
                ),
                mindspore=MindSporeOptions(self.mindspore_device_target),
            ),
            batching=BatchingOptions(self.max_batch, self.max_wait_ms / 1000, self.queue_size),
            detection=DetectionOptions(
                model=self.detector,
                score_threshold=self.detect_score_threshold,
                iou_threshold=self.detect_iou_threshold,
                max_persons=self.detect_max_persons,
                min_size=self.detect_min_size,
            ),
            request_deadline_s=self.request_deadline_ms / 1000,
            max_image_pixels=self.max_image_pixels,
            max_persons=self.max_persons,
            max_concurrent_decodes=self.max_concurrent_decodes,
            max_concurrent_renders=self.max_concurrent_renders,
            render_max_side=self.render_max_side,
            keypoint_threads=self.keypoint_threads,
            max_concurrent_videos=self.max_concurrent_videos,
        )

    def video_limits(self) -> VideoLimits:
        return VideoLimits(
            max_bytes=self.video_max_bytes,
            max_duration_s=self.video_max_duration_s,
            max_frames=self.video_max_frames,
            max_side=self.video_max_side,
            max_pixels=self.video_max_pixels,
        )

    def video_pose_options(self) -> VideoPoseOptions:
        """Tracking and smoothing as set; the detector's boxes are taken at its own score threshold."""
        return VideoPoseOptions(
            tracking=TrackingOptions(
                detect_every=self.track_detect_every,
                max_missed_frames=self.track_max_missed_frames,
                weak_track_score=self.track_weak_score,
                min_pose_score=self.track_min_pose_score,
                joint_score_threshold=self.track_joint_score,
                similarity=self.track_similarity,
                min_similarity=self.track_min_similarity,
                detection_min_score=0.0,
                max_persons=self.max_persons,
            ),
            smoothing=OneEuroOptions(self.smooth_min_cutoff_hz, self.smooth_beta, self.smooth_d_cutoff_hz),
            max_frames_in_flight=self.video_frames_in_flight,
        )
