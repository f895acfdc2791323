"""Request and response bodies of the HTTP API (pydantic, the API edge only)."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator

from runtime.pipeline.regions import person_form_problem
from runtime.repository.version import State


class Person(BaseModel):
    """A person: a box [x1, y1, x2, y2], or an MPII centre [cx, cy] and scale (crop side 200*scale)."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={  # the rule of _one_form, for generated clients and fuzzers
            "oneOf": [
                {"required": ["box"], "not": {"anyOf": [{"required": ["center"]}, {"required": ["scale"]}]}},
                {"required": ["center", "scale"], "not": {"required": ["box"]}},
            ]
        },
    )

    # Strict: persons are always JSON, where true is not a number.
    box: tuple[StrictFloat, StrictFloat, StrictFloat, StrictFloat] | None = None
    center: tuple[StrictFloat, StrictFloat] | None = None
    scale: StrictFloat | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        problem = person_form_problem(self.box, self.center, self.scale)
        if problem is not None:
            raise ValueError(problem)
        return self


class DetectionFields(BaseModel):
    """How the person detector is asked, in both request forms of /v1/pose and /v1/detect.

    The options of both routes take JSON's types strictly: a boolean is true or false, an integer is not
    "6", 6.0 or true, a number is not "0.5". A multipart form's text fields are read into these types first
    (service.image_request).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    detector: str | None = Field(default=None, description="detector model (default: the only one served)")
    detector_version: StrictInt | None = Field(
        default=None, ge=1, description="detector version (default: newest)"
    )
    detect_score_threshold: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="drop detections scoring below this (default: the service's)"
    )
    detect_max_persons: StrictInt | None = Field(
        default=None, ge=1, description="keep at most this many persons, best first (default: the service's)"
    )
    detect_min_size: StrictFloat | None = Field(
        default=None,
        ge=0,
        description="drop boxes narrower or lower than this many pixels (default: the service's)",
    )


class PoseOptions(DetectionFields):
    """What both request forms of /v1/pose share."""

    persons: list[Person] | None = Field(
        default=None,
        min_length=1,
        description="where the persons are; leave it out to have the person detector find them",
    )
    flip: StrictBool = Field(default=True, description="average with the mirrored crop, as the reference")
    model: str | None = Field(default=None, description="model name (default: the only or configured one)")
    version: StrictInt | None = Field(default=None, ge=1, description="model version (default: newest ready)")
    detect: StrictBool | None = Field(
        default=None,
        description="run the person detector (the default when no persons are given; true with persons is an "
        "error, false without persons too)",
    )

    @model_validator(mode="after")
    def _persons_or_detect(self) -> Self:
        if self.persons is not None and self.detect:
            raise ValueError("give persons or detect: true, not both")
        if self.persons is None and self.detect is False:
            raise ValueError("without persons the detector must find them: give persons, or leave out detect")
        return self


class EncodedImage(BaseModel):
    image_base64: str = Field(description="the image file (JPEG, PNG, BMP or WebP), base64-encoded")


class PoseJsonRequest(PoseOptions, EncodedImage):
    """POST /v1/pose as JSON."""


class DetectJsonRequest(DetectionFields, EncodedImage):
    """POST /v1/detect as JSON."""


class Keypoint(BaseModel):
    name: str
    x: float
    y: float
    score: float


class PersonPose(BaseModel):
    box: list[float] = Field(description="[x1, y1, x2, y2] as given, or as the detector found it")
    center: list[float]
    scale: float
    score: float | None = Field(description="the detector's score for this person; null for a given person")
    keypoints: list[Keypoint]


class ModelRef(BaseModel):
    name: str
    version: int
    backend: str
    precision: str = Field(description="fp32, fp16 or int8, from the version's metadata")


class ImageSize(BaseModel):
    width: int
    height: int


class DetectedPerson(BaseModel):
    box: list[float] = Field(description="[x1, y1, x2, y2] in image pixels")
    score: float = Field(description="the detector's score, 0..1")


class DetectResponse(BaseModel):
    model: ModelRef = Field(description="the detector that ran")
    image: ImageSize
    persons: list[DetectedPerson] = Field(description="best score first")
    timing_ms: dict[str, float]


class PoseResponse(BaseModel):
    model: ModelRef
    image: ImageSize
    persons: list[PersonPose]
    timing_ms: dict[str, float]


class VersionInfo(BaseModel):
    version: int
    status: str
    reason: str | None
    reload_error: str | None = Field(
        description="the version's files changed on disk and failed to load with this error; the copy "
        "loaded before keeps serving (status ready)"
    )
    backend: str
    backend_reason: str = Field(
        description="why this backend runs the version (HGPOSE_BACKEND, or auto's rule)"
    )
    precision: str | None = Field(description="fp32, fp16 or int8; null when the metadata is unreadable")
    source_version: int | None = Field(description="the version this one was quantised from")
    model_file: str | None = Field(description="the file the backend runs")
    devices: list[str] | None = Field(
        description="execution providers or devices actually running it (onnxruntime's session providers, "
        "OpenVINO's execution devices); null when not loaded"
    )
    input_size: list[int] | None = Field(description="[height, width] of the network input")
    heatmap_size: list[int] | None = Field(description="[height, width] of a pose model's heatmaps")
    exported_at: str | None


class ModelInfo(BaseModel):
    name: str
    kind: str = Field(description="'pose' (crops in, keypoints out) or 'detector' (an image in, boxes out)")
    default_version: int | None
    default_reason: str | None = Field(description="why requests naming no version get default_version")
    versions: list[VersionInfo]


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class RepositoryVersion(BaseModel):
    name: str
    version: int
    state: State
    on_disk: bool | None = Field(
        description="the version folder is in the repository now; null: the model's folder cannot be read now"
    )
    default: bool = Field(description="requests that name no version get this one")
    reason: str | None = Field(description="why it is unavailable or not loaded")
    reload_error: str | None = Field(
        description="the version's files changed on disk and failed to load with this error; the copy "
        "loaded before keeps serving (state ready)"
    )


class RepositoryIndex(BaseModel):
    poll_s: float | None = Field(description="seconds between scans of the repository; null: poll mode off")
    versions: list[RepositoryVersion]


class HealthResponse(BaseModel):
    status: str
    models_ready: int | None = None


class ErrorResponse(BaseModel):
    detail: str
    request_id: str | None = None


class JointInfo(BaseModel):
    name: str
    side: str = Field(description="'right', 'left' or 'center' (the person's own side)")


class LimbInfo(BaseModel):
    joints: tuple[str, str]
    side: str


class SkeletonResponse(BaseModel):
    """What a drawing needs: the joints in response order, the limbs between them, the colour of each side."""

    joints: list[JointInfo]
    limbs: list[LimbInfo]
    colors: dict[str, str] = Field(description="CSS colour per side, the ones render=png draws in")
