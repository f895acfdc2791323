"""Model-repository layout and metadata schema (Triton style: REPO/<name>/<version>/ + metadata.json).

The training export writes it and the service reads it; neither needs the other's code. A version is a
positive integer; the highest one present is a model's default. A model is of one kind: a pose network
(`ModelMetadata`) or a person detector (`DetectorMetadata`); metadata without a `kind` is a pose model's.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

METADATA_FILE = "metadata.json"
ONNX_FILE = "model.onnx"
MINDIR_FILE = "model.mindir"
OPENVINO_IR_FILE = "model.xml"
OPENVINO_WEIGHTS_FILE = "model.bin"
# Files that are useless without another one: verifying the first verifies these too.
COMPANION_FILES: dict[str, tuple[str, ...]] = {OPENVINO_IR_FILE: (OPENVINO_WEIGHTS_FILE,)}
SCHEMA_VERSION = 1
# A version folder's name: a positive integer in ASCII digits, as str(version) writes it.
_VERSION_NAME = re.compile(r"[1-9][0-9]*")

logger = logging.getLogger(__name__)

# Pixels are 8-bit: the network sees pixel / PIXEL_MAX (no mean or std), as the reference feeds it.
PIXEL_MAX = 255.0

FP32 = "fp32"
INT8 = "int8"
FP16 = "fp16"
PRECISIONS: tuple[str, ...] = (FP32, FP16, INT8)

POSE = "pose"
DETECTOR = "detector"
KINDS: tuple[str, ...] = (POSE, DETECTOR)


class ModelRepositoryError(ValueError):
    """A model version folder or its metadata is missing, malformed or fails its checksums."""


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ModelRepositoryError(f"{what} {value!r} is not one of {', '.join(choices)}")


def _check_kind(kind: str, expected_kind: str) -> None:
    if kind != expected_kind:
        raise ModelRepositoryError(f"metadata of kind {kind!r} read as a {expected_kind} model's")


@dataclass(frozen=True)
class ModelFile:
    sha256: str
    bytes: int


@dataclass(frozen=True, kw_only=True)
class VersionRecord:
    """What the metadata of every kind of model records: the version, its files, how and when it was made and
    from what; `kind` says which model it is (POSE or DETECTOR)."""

    name: str
    version: int
    files: dict[str, ModelFile]
    exported_at: str
    exporter: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    precision: str = FP32
    # The version this one was derived from (int8 from fp32), with how it was made and what it scored.
    source_version: int | None = None
    quantization: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    kind: str

    def __post_init__(self) -> None:
        _check_choice("precision", self.precision, PRECISIONS)

    def guardrail_problem(self, runtime: str) -> str | None:
        """Why training.quantize's accuracy guardrail does not vouch for this version on `runtime`, or None
        when it does (an fp32 version needs no vouching). It vouches when the version was not forced past
        it and the accuracy it lost on that runtime is within the limit it was written under."""
        if self.precision == FP32:
            return None
        accuracy = self.quantization.get("accuracy")
        if not isinstance(accuracy, dict):
            return "its metadata records no accuracy check"
        if accuracy.get("forced_past_guardrail") is not False:
            return "it was written past the accuracy guardrail (--force)"
        scored = accuracy.get("runtimes", {})
        result = scored.get(runtime) if isinstance(scored, dict) else None
        limit = accuracy.get("max_drop_points")
        drop = result.get("drop_points") if isinstance(result, dict) else None
        if not isinstance(drop, int | float) or not isinstance(limit, int | float):
            return f"its accuracy was not checked on {runtime}"
        if drop > limit:
            return f"it loses {drop:g} accuracy points on {runtime}, over the limit of {limit:g}"
        return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"


# What a metadata dict with a missing key or a value of the wrong type raises while it is read.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


def _shared_fields(raw: dict[str, Any], kind: str) -> dict[str, Any]:
    """VersionRecord's fields from a metadata JSON object; `kind` when it names none."""
    return {
        "name": str(raw["name"]),
        "version": int(raw["version"]),
        "files": {name: ModelFile(**entry) for name, entry in raw["files"].items()},
        "exported_at": str(raw["exported_at"]),
        "exporter": dict(raw.get("exporter", {})),
        "provenance": dict(raw.get("provenance", {})),
        "precision": str(raw.get("precision", FP32)),
        "source_version": None if raw.get("source_version") is None else int(raw["source_version"]),
        "quantization": dict(raw.get("quantization", {})),
        "schema_version": int(raw.get("schema_version", SCHEMA_VERSION)),
        "kind": str(raw.get("kind", kind)),
    }


@dataclass(frozen=True)
class InputSpec:
    """What the network takes: layout NHWC, (height, width), float32 RGB = pixel / PIXEL_MAX (no mean/std).

    `mindir_name` is the MINDIR graph's input name, which a Lite dynamic-shape declaration (`input_shape`,
    also for the offline converter) must name; exports before it was recorded lack it (None).
    """

    height: int
    width: int
    layout: str = "NHWC"
    dtype: str = "float32"
    color: str = "RGB"
    pixel_scale: float = 1.0 / PIXEL_MAX
    mindir_name: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    """Heatmaps (B, nstack, joints, H/4, W/4); inference uses the last stack."""

    nstack: int
    num_joints: int
    heatmap_height: int
    heatmap_width: int


@dataclass(frozen=True, kw_only=True)
class ModelMetadata(VersionRecord):
    """A pose network's version."""

    input: InputSpec
    output: OutputSpec
    features: int
    joint_names: tuple[str, ...]
    flip_permutation: tuple[int, ...]
    parameter_count: int
    kind: str = POSE

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_kind(self.kind, POSE)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ModelMetadata":
        try:
            return cls(
                input=InputSpec(**raw["input"]),
                output=OutputSpec(**raw["output"]),
                features=int(raw["features"]),
                joint_names=tuple(raw["joint_names"]),
                flip_permutation=tuple(int(i) for i in raw["flip_permutation"]),
                parameter_count=int(raw["parameter_count"]),
                **_shared_fields(raw, POSE),
            )
        except _MALFORMED as error:
            raise ModelRepositoryError(f"malformed {METADATA_FILE}: {error!r}") from error


# A detector's input: tensor layouts, element types, colour orders, resize modes and where padding goes.
NCHW = "NCHW"
NHWC = "NHWC"
LAYOUTS: tuple[str, ...] = (NCHW, NHWC)
FLOAT32 = "float32"
UINT8 = "uint8"
DTYPES: tuple[str, ...] = (FLOAT32, UINT8)
RGB = "RGB"
BGR = "BGR"
COLORS: tuple[str, ...] = (RGB, BGR)
LETTERBOX = "letterbox"
STRETCH = "stretch"
RESIZES: tuple[str, ...] = (LETTERBOX, STRETCH)
TOP_LEFT = "top_left"
CENTER = "center"
PAD_POSITIONS: tuple[str, ...] = (TOP_LEFT, CENTER)
# A detector's output: a raw YOLOX head, or boxes that the graph has already suppressed.
YOLOX_HEAD = "yolox"
SUPPRESSED = "suppressed"
OUTPUT_FORMATS: tuple[str, ...] = (YOLOX_HEAD, SUPPRESSED)
# Where suppressed boxes live: detector-input pixels, or fractions (0..1) of the input's width and height.
INPUT_PIXELS = "input_pixels"
INPUT_NORMALIZED = "input_normalized"
BOX_COORDINATES: tuple[str, ...] = (INPUT_PIXELS, INPUT_NORMALIZED)


@dataclass(frozen=True)
class DetectorInputSpec:
    """One image resized to (height, width) and laid out as `layout` of `dtype`, channels in `color` order.

    Each value is (pixel * pixel_scale - mean[c]) / std[c], c in the model's channel order. `letterbox`
    keeps the aspect ratio and fills the rest with `pad_value` (raw pixel units), the image at the top-left
    corner or centred; `stretch` resizes to (height, width) whatever the aspect. `name` is the graph's
    input tensor.
    """

    height: int
    width: int
    layout: str = NCHW
    dtype: str = FLOAT32
    color: str = RGB
    pixel_scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: str = LETTERBOX
    pad_value: float = 0.0
    pad_position: str = TOP_LEFT
    name: str = "images"

    def __post_init__(self) -> None:
        if self.height <= 0 or self.width <= 0:
            raise ModelRepositoryError(f"input size {self.height}x{self.width} is not positive")
        _check_choice("layout", self.layout, LAYOUTS)
        _check_choice("dtype", self.dtype, DTYPES)
        _check_choice("color", self.color, COLORS)
        _check_choice("resize", self.resize, RESIZES)
        _check_choice("pad position", self.pad_position, PAD_POSITIONS)
        object.__setattr__(self, "mean", _three_floats("mean", self.mean))
        object.__setattr__(self, "std", _three_floats("std", self.std))
        if 0.0 in self.std:
            raise ModelRepositoryError(f"std {self.std} has a zero")
        if self.dtype == UINT8 and not self.is_raw_pixels:
            raise ModelRepositoryError("a uint8 input takes raw pixels: pixel scale 1, mean 0, std 1")

    @property
    def is_raw_pixels(self) -> bool:
        return self.pixel_scale == 1.0 and self.mean == (0.0, 0.0, 0.0) and self.std == (1.0, 1.0, 1.0)


def _three_floats(what: str, values: Any) -> tuple[float, float, float]:
    floats = tuple(float(v) for v in values)
    if len(floats) != 3:
        raise ModelRepositoryError(f"{what} needs one value per channel, got {len(floats)}")
    return floats[0], floats[1], floats[2]


@dataclass(frozen=True)
class DetectorOutputSpec:
    """`yolox`: the raw head (N, anchors, 5 + classes), per anchor x, y offsets within its grid cell and
    log w, h, all in units of the anchor's stride, then objectness and class scores (already sigmoid);
    anchors run stride by stride, each grid row-major. `suppressed`: (N, K, 6) rows x1 y1 x2 y2 score class
    after the graph's own NMS, boxes in `coordinates`. `name` is the graph's output tensor."""

    format: str
    num_classes: int
    strides: tuple[int, ...] = ()
    coordinates: str = INPUT_PIXELS
    name: str = "output"

    def __post_init__(self) -> None:
        _check_choice("output format", self.format, OUTPUT_FORMATS)
        _check_choice("box coordinates", self.coordinates, BOX_COORDINATES)
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if self.num_classes <= 0:
            raise ModelRepositoryError(f"a detector needs classes, not {self.num_classes}")
        if self.format == YOLOX_HEAD and (not self.strides or min(self.strides) <= 0):
            raise ModelRepositoryError(f"a YOLOX head needs positive strides, got {self.strides}")


@dataclass(frozen=True, kw_only=True)
class DetectorMetadata(VersionRecord):
    """A detector version: what it finds (`class_names`, the person's index), its input and output. Its
    provenance says where the weights come from: source repository, path and commit, licence, the upstream
    file's sha256, published accuracy."""

    input: DetectorInputSpec
    output: DetectorOutputSpec
    class_names: tuple[str, ...]
    person_class: int
    kind: str = DETECTOR

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_kind(self.kind, DETECTOR)
        if len(self.class_names) != self.output.num_classes:
            raise ModelRepositoryError(
                f"{len(self.class_names)} class names for {self.output.num_classes} output classes"
            )
        if not 0 <= self.person_class < len(self.class_names):
            raise ModelRepositoryError(f"person class {self.person_class} is not a class index")
        if self.output.format == YOLOX_HEAD:
            for stride in self.output.strides:
                if self.input.height % stride or self.input.width % stride:
                    raise ModelRepositoryError(
                        f"input {self.input.height}x{self.input.width} is not a multiple of stride {stride}"
                    )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "DetectorMetadata":
        try:
            return cls(
                input=DetectorInputSpec(**raw["input"]),
                output=DetectorOutputSpec(**raw["output"]),
                class_names=tuple(str(n) for n in raw["class_names"]),
                person_class=int(raw["person_class"]),
                **_shared_fields(raw, DETECTOR),
            )
        except _MALFORMED as error:
            raise ModelRepositoryError(f"malformed {METADATA_FILE}: {error!r}") from error


VersionMetadata: TypeAlias = ModelMetadata | DetectorMetadata


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_file(path: Path) -> ModelFile:
    return ModelFile(sha256=sha256_file(path), bytes=path.stat().st_size)


def write_metadata(version_dir: Path, metadata: VersionMetadata) -> Path:
    path = Path(version_dir) / METADATA_FILE
    path.write_text(metadata.to_json())
    return path


def _read_raw_metadata(version_dir: Path) -> dict[str, Any]:
    path = Path(version_dir) / METADATA_FILE
    if not path.is_file():
        raise ModelRepositoryError(f"{path} is missing")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelRepositoryError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise ModelRepositoryError(f"{path} must hold a JSON object")
    return raw


def _in_its_folder(version_dir: Path, metadata: VersionMetadata) -> VersionMetadata:
    if str(metadata.version) != Path(version_dir).name:
        raise ModelRepositoryError(
            f"{Path(version_dir) / METADATA_FILE} says version {metadata.version} "
            f"but lies in folder {Path(version_dir).name!r}"
        )
    return metadata


def read_version_metadata(version_dir: Path) -> VersionMetadata:
    """The metadata of a version folder of either kind, by its `kind` (absent: a pose model)."""
    raw = _read_raw_metadata(version_dir)
    kind = raw.get("kind", POSE)
    if kind == DETECTOR:
        return _in_its_folder(version_dir, DetectorMetadata.from_dict(raw))
    if kind == POSE:
        return _in_its_folder(version_dir, ModelMetadata.from_dict(raw))
    raise ModelRepositoryError(
        f"{Path(version_dir) / METADATA_FILE}: kind {kind!r} is not one of {', '.join(KINDS)}"
    )


def read_metadata(version_dir: Path) -> ModelMetadata:
    """A pose model's metadata; a folder of another kind raises ModelRepositoryError saying which."""
    metadata = read_version_metadata(version_dir)
    if not isinstance(metadata, ModelMetadata):
        raise ModelRepositoryError(f"{version_dir} holds a {metadata.kind} model, not a {POSE} model")
    return metadata


def read_detector_metadata(version_dir: Path) -> DetectorMetadata:
    metadata = read_version_metadata(version_dir)
    if not isinstance(metadata, DetectorMetadata):
        raise ModelRepositoryError(f"{version_dir} holds a {metadata.kind} model, not a {DETECTOR} model")
    return metadata


def verify_file(version_dir: Path, metadata: VersionMetadata, file_name: str) -> None:
    """Raise ModelRepositoryError unless `file_name` (and its companions) is listed, present, of the right
    size and checksum."""
    entry = metadata.files.get(file_name)
    if entry is None:
        raise ModelRepositoryError(f"{file_name} is not listed in {METADATA_FILE}")
    path = Path(version_dir) / file_name
    if not path.is_file():
        raise ModelRepositoryError(f"{path} is missing")
    if path.stat().st_size != entry.bytes:
        raise ModelRepositoryError(f"{path} has {path.stat().st_size} bytes, metadata says {entry.bytes}")
    if sha256_file(path) != entry.sha256:
        raise ModelRepositoryError(f"{path} fails its sha256 checksum")
    for companion in COMPANION_FILES.get(file_name, ()):
        verify_file(version_dir, metadata, companion)


def list_versions(model_dir: Path) -> list[int]:
    """Version folders (positive integers) of one model, ascending; other folders are skipped, and logged."""
    versions = []
    for path in sorted(p for p in Path(model_dir).iterdir() if p.is_dir()):
        if _VERSION_NAME.fullmatch(path.name):
            versions.append(int(path.name))
        else:
            model = Path(model_dir).name
            logger.warning("skipping folder %r of model %r: versions are named 1, 2, ...", path.name, model)
    return sorted(versions)


def install_version_dir(staging: Path, target: Path, force: bool) -> None:
    """Move a finished version folder into place; an existing one is replaced only with force."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{target.name}.incoming-", dir=target.parent))
    shutil.copytree(staging, incoming, dirs_exist_ok=True)
    incoming.chmod(0o755)  # mkdtemp makes it private; MindSpore writes its MINDIR read-only for the owner
    for path in incoming.iterdir():
        path.chmod(0o644)
    retired = None
    if target.exists():
        if not force:
            shutil.rmtree(incoming)
            raise ModelRepositoryError(f"{target} already exists (use --force to replace it)")
        retired = target.with_name(f".{target.name}.retired-{os.getpid()}")
        target.rename(retired)
    incoming.rename(target)
    if retired is not None:
        shutil.rmtree(retired)
