"""Model-repository layout and metadata schema (Triton style: REPO/<name>/<version>/ + metadata.json).

The training export writes it and the service reads it; neither needs the other's code. A version is a
positive integer; the highest one present is a model's default.
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
from typing import Any

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


class ModelRepositoryError(ValueError):
    """A model version folder or its metadata is missing, malformed or fails its checksums."""


@dataclass(frozen=True)
class ModelFile:
    sha256: str
    bytes: int


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


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    version: int
    input: InputSpec
    output: OutputSpec
    features: int
    joint_names: tuple[str, ...]
    flip_permutation: tuple[int, ...]
    parameter_count: int
    files: dict[str, ModelFile]
    exported_at: str
    exporter: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    precision: str = FP32
    # The version this one was derived from (int8 from fp32), with how it was made and what it scored.
    source_version: int | None = None
    quantization: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ModelRepositoryError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ModelMetadata":
        try:
            return cls(
                name=str(raw["name"]),
                version=int(raw["version"]),
                input=InputSpec(**raw["input"]),
                output=OutputSpec(**raw["output"]),
                features=int(raw["features"]),
                joint_names=tuple(raw["joint_names"]),
                flip_permutation=tuple(int(i) for i in raw["flip_permutation"]),
                parameter_count=int(raw["parameter_count"]),
                files={name: ModelFile(**entry) for name, entry in raw["files"].items()},
                exported_at=str(raw["exported_at"]),
                exporter=dict(raw.get("exporter", {})),
                provenance=dict(raw.get("provenance", {})),
                precision=str(raw.get("precision", FP32)),
                source_version=None if raw.get("source_version") is None else int(raw["source_version"]),
                quantization=dict(raw.get("quantization", {})),
                schema_version=int(raw.get("schema_version", SCHEMA_VERSION)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ModelRepositoryError(f"malformed {METADATA_FILE}: {error!r}") from error


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_file(path: Path) -> ModelFile:
    return ModelFile(sha256=sha256_file(path), bytes=path.stat().st_size)


def write_metadata(version_dir: Path, metadata: ModelMetadata) -> Path:
    path = Path(version_dir) / METADATA_FILE
    path.write_text(metadata.to_json())
    return path


def read_metadata(version_dir: Path) -> ModelMetadata:
    path = Path(version_dir) / METADATA_FILE
    if not path.is_file():
        raise ModelRepositoryError(f"{path} is missing")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelRepositoryError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise ModelRepositoryError(f"{path} must hold a JSON object")
    metadata = ModelMetadata.from_dict(raw)
    if str(metadata.version) != Path(version_dir).name:
        raise ModelRepositoryError(
            f"{path} says version {metadata.version} but lies in folder {Path(version_dir).name!r}"
        )
    return metadata


def verify_file(version_dir: Path, metadata: ModelMetadata, file_name: str) -> None:
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
