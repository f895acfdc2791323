"""Detector metadata: round trip, dispatch by kind (pose metadata without a kind stays pose), checksums, and
malformed metadata refused with ModelRepositoryError."""

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT

from core.model_repo import (
    DETECTOR,
    METADATA_FILE,
    ONNX_FILE,
    POSE,
    SUPPRESSED,
    YOLOX_HEAD,
    DetectorInputSpec,
    DetectorMetadata,
    DetectorOutputSpec,
    ModelMetadata,
    ModelRepositoryError,
    describe_file,
    read_detector_metadata,
    read_metadata,
    read_version_metadata,
    verify_file,
    write_metadata,
)

POSE_VERSION = REPO_ROOT / "model_repo" / "hourglass" / "6"


def detector(version_dir: Path) -> DetectorMetadata:
    (version_dir / ONNX_FILE).write_bytes(b"not a real graph, only checksummed")
    return DetectorMetadata(
        name="people",
        version=int(version_dir.name),
        input=DetectorInputSpec(320, 256, color="BGR", pad_value=114.0, mean=(1.0, 2.0, 3.0)),
        output=DetectorOutputSpec(YOLOX_HEAD, 2, (8, 16, 32)),
        class_names=("cat", "person"),
        person_class=1,
        files={ONNX_FILE: describe_file(version_dir / ONNX_FILE)},
        exported_at="2026-12-06T00:00:00+00:00",
        provenance={"license": "Apache-2.0", "source": {"commit": "0" * 40}},
    )


@pytest.fixture
def detector_dir(tmp_path: Path) -> Path:
    version_dir = tmp_path / "people" / "3"
    version_dir.mkdir(parents=True)
    write_metadata(version_dir, detector(version_dir))
    return version_dir


def rewrite(version_dir: Path, change: Any) -> None:
    path = version_dir / METADATA_FILE
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def test_detector_metadata_round_trips(detector_dir: Path) -> None:
    written = detector(detector_dir)
    read = read_version_metadata(detector_dir)
    assert read == written
    assert isinstance(read, DetectorMetadata) and read.kind == DETECTOR
    assert read.input.mean == (1.0, 2.0, 3.0) and read.output.strides == (8, 16, 32)
    assert read_detector_metadata(detector_dir) == written
    verify_file(detector_dir, read, ONNX_FILE)
    (detector_dir / ONNX_FILE).write_bytes(b"not a real graph, only checksummed!")
    with pytest.raises(ModelRepositoryError, match="bytes"):
        verify_file(detector_dir, read, ONNX_FILE)


def test_pose_metadata_without_a_kind_reads_as_pose(tmp_path: Path) -> None:
    raw = json.loads((POSE_VERSION / METADATA_FILE).read_text())
    raw.pop("kind", None)
    version_dir = tmp_path / "hourglass" / POSE_VERSION.name
    version_dir.mkdir(parents=True)
    (version_dir / METADATA_FILE).write_text(json.dumps(raw))
    read = read_version_metadata(version_dir)
    assert isinstance(read, ModelMetadata) and read.kind == POSE
    assert read_metadata(version_dir) == read
    assert json.loads(read.to_json())["kind"] == POSE
    with pytest.raises(ModelRepositoryError, match="holds a pose model, not a detector model"):
        read_detector_metadata(version_dir)


def test_a_pose_reader_refuses_a_detector_by_name(detector_dir: Path) -> None:
    with pytest.raises(ModelRepositoryError, match="holds a detector model, not a pose model"):
        read_metadata(detector_dir)


def test_a_detector_in_the_wrong_folder_is_refused(detector_dir: Path) -> None:
    moved = detector_dir.with_name("4")
    shutil.copytree(detector_dir, moved)
    with pytest.raises(ModelRepositoryError, match="says version 3"):
        read_version_metadata(moved)


def _set(path: tuple[str, ...], value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(key: str) -> Any:
    return lambda raw: raw.pop(key)


MALFORMED = {
    "unknown kind": (_set(("kind",), "segmenter"), "kind 'segmenter'"),
    "no input": (_drop("input"), "malformed"),
    "no class names": (_drop("class_names"), "malformed"),
    "layout": (_set(("input", "layout"), "CHWN"), "layout 'CHWN'"),
    "dtype": (_set(("input", "dtype"), "float64"), "dtype 'float64'"),
    "colour": (_set(("input", "color"), "YUV"), "color 'YUV'"),
    "resize": (_set(("input", "resize"), "crop"), "resize 'crop'"),
    "pad position": (_set(("input", "pad_position"), "bottom"), "pad position"),
    "mean of two": (_set(("input", "mean"), [1.0, 2.0]), "one value per channel"),
    "std with a zero": (_set(("input", "std"), [1.0, 0.0, 1.0]), "has a zero"),
    "uint8 with a mean": (_set(("input", "dtype"), "uint8"), "raw pixels"),
    "unknown field": (_set(("input", "gamma"), 2.2), "malformed"),
    "output format": (_set(("output", "format"), "anchors"), "output format 'anchors'"),
    "yolox without strides": (_set(("output", "strides"), []), "positive strides"),
    "stride not dividing": (_set(("output", "strides"), [8, 16, 24]), "not a multiple of stride 24"),
    "coordinates": (_set(("output", "coordinates"), "image"), "box coordinates"),
    "class count": (_set(("class_names",), ["person"]), "1 class names for 2 output classes"),
    "person class": (_set(("person_class",), 2), "person class 2"),
    "precision": (_set(("precision",), "int4"), "precision 'int4'"),
    "pose kind on detector fields": (_set(("kind",), "pose"), "malformed"),
    "files": (_set(("files",), {ONNX_FILE: {"sha256": "00"}}), "malformed"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_detector_metadata_is_refused(detector_dir: Path, case: str) -> None:
    change, message = MALFORMED[case]
    rewrite(detector_dir, change)
    with pytest.raises(ModelRepositoryError, match=message):
        read_version_metadata(detector_dir)


def test_not_a_json_object_is_refused(detector_dir: Path) -> None:
    (detector_dir / METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(ModelRepositoryError, match="JSON object"):
        read_version_metadata(detector_dir)


def test_suppressed_output_needs_no_strides(tmp_path: Path) -> None:
    version_dir = tmp_path / "ssd" / "1"
    version_dir.mkdir(parents=True)
    metadata = replace(detector(version_dir), version=1, output=DetectorOutputSpec(SUPPRESSED, 2))
    write_metadata(version_dir, metadata)
    assert read_detector_metadata(version_dir) == metadata
