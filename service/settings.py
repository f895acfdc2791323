"""Every tunable of the service in one typed object, read from HGPOSE_* environment variables."""

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.devices import MindSporeTarget
from service.backends.registry import BACKEND_CHOICES
from service.gears import DEFAULT_GEARS, check_gears

LogLevel = Literal["debug", "info", "warning", "error"]
LiteTarget = Literal["ascend", "gpu", "cpu"]
OpenVinoHint = Literal["LATENCY", "THROUGHPUT"]
OpenVinoPrecision = Literal["f32", "bf16", "f16"]

LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)


class Settings(BaseSettings):
    """Service configuration; `HGPOSE_MAX_BATCH=8` sets `max_batch` and so on."""

    model_config = SettingsConfigDict(env_prefix="HGPOSE_", extra="ignore")

    model_repo: Path = Path("model_repo")
    default_model: str | None = Field(
        default=None, description="model used when a request names none (default: the only one served)"
    )
    backend: str = Field(default="auto", description=f"one of {', '.join(BACKEND_CHOICES)}")
    repository_poll_s: float = Field(
        default=0,
        ge=0,
        description="seconds between scans of model_repo for new, changed or removed versions (0: off)",
    )

    ort_intra_op_threads: int = Field(default=0, ge=0, description="0 lets onnxruntime choose")
    ort_inter_op_threads: int = Field(default=1, ge=0)
    ort_use_cuda: bool | None = Field(
        default=None,
        description="unset: CUDA when the installed onnxruntime has it; true: ask for CUDA (a fallback to "
        "the CPU is logged as a warning); false: CPU only",
    )

    openvino_device: str = Field(default="CPU", description="OpenVINO device: CPU, GPU, AUTO, ...")
    openvino_threads: int = Field(default=0, ge=0, description="inference threads; 0 lets OpenVINO choose")
    openvino_performance_hint: OpenVinoHint = Field(
        default="LATENCY", description="LATENCY suits the batcher's one inference at a time"
    )
    openvino_inference_precision: OpenVinoPrecision = Field(
        default="f32",
        description="f32 keeps fp32 models' answers; OpenVINO's own default on bf16-capable CPUs is bf16",
    )

    lite_target: LiteTarget = "ascend"
    lite_device_id: int = Field(default=0, ge=0)
    lite_precision_mode: str = "enforce_fp32"
    lite_cpu_threads: int = Field(default=2, ge=0)
    lite_batch_gears: Annotated[tuple[int, ...], NoDecode] = Field(
        default=DEFAULT_GEARS,
        description="batch sizes Lite declares on Ascend/GPU (2 is always added; each <= 2048)",
    )

    mindspore_device_target: MindSporeTarget = "CPU"

    max_batch: int = Field(default=8, ge=1, description="most crops (flip copies included) per inference")
    max_wait_ms: float = Field(
        default=0.0,
        ge=0,
        description="how long a batch waits to fill up; at 0 it leaves when inference is free, and what "
        "arrives meanwhile forms the next batch",
    )
    queue_size: int = Field(default=64, ge=1, description="most crops waiting for inference per model")
    request_deadline_ms: float = Field(default=30_000, gt=0)
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After of a 503 for a full queue")

    api_key: str | None = Field(default=None, description="when set, /v1/* needs 'Authorization: Bearer KEY'")
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    max_persons: int = Field(default=16, ge=1)
    max_concurrent_decodes: int = Field(
        default=2, ge=1, description="images decoded and cropped at once (each up to 8 bytes per pixel)"
    )

    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="request line and headers (h11 answers 400 and closes above)"
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="a request's line and headers must arrive within this (else closed)"
    )
    body_timeout_s: float = Field(
        default=20.0, gt=0, description="a request's body must arrive within this after its headers (408)"
    )
    keep_alive_timeout_s: int = Field(default=5, ge=1, description="idle keep-alive connections close after")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
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

    @field_validator("api_key")
    @classmethod
    def _empty_key_means_none(cls, value: str | None) -> str | None:
        """`HGPOSE_API_KEY=` (as compose passes an unset variable) turns authentication off."""
        return value or None

    @field_validator("lite_batch_gears", mode="before")
    @classmethod
    def _gears_from_text(cls, value: object) -> tuple[int, ...]:
        """`HGPOSE_LITE_BATCH_GEARS=1,2,4,8`: sorted, distinct, with the flip pair 2, each in 1..2048."""
        if isinstance(value, str):
            value = [part for part in value.replace(" ", "").split(",") if part]
        if not isinstance(value, list | tuple):
            raise ValueError("lite_batch_gears is a comma-separated list of batch sizes, e.g. 1,2,4,8")
        return check_gears([int(g) for g in value])

    @model_validator(mode="after")
    def _queue_holds_a_request(self) -> "Settings":
        """A request that can never fit in the queue would be refused forever: reject such settings."""
        if self.queue_size < 2 * self.max_persons:
            raise ValueError(
                f"queue_size ({self.queue_size}) must hold the largest request: 2 crops (flip) x "
                f"max_persons ({self.max_persons})"
            )
        return self
