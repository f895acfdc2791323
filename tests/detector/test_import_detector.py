"""training.import_detector rebuilds the shipped version folder from the upstream file and refuses others."""

import json
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from lite_detectors import write_mindir_interface

from core.model_repo import (
    METADATA_FILE,
    MINDIR_FILE,
    ONNX_FILE,
    ModelRepositoryError,
    read_detector_metadata,
    sha256_file,
    verify_file,
)
from training.import_detector import import_detector, main

SHIPPED = REPO_ROOT / "model_repo" / "person_detector" / "1"


def without_time(path: Path) -> dict[str, object]:
    raw = json.loads(path.read_text())
    raw.pop("exported_at")
    return raw


def test_the_import_reproduces_the_shipped_folder(tmp_path: Path) -> None:
    written = import_detector(SHIPPED / ONNX_FILE, tmp_path / "person_detector", version=1, force=False)
    target = tmp_path / "person_detector" / "1"
    assert read_detector_metadata(target) == written
    assert (target / ONNX_FILE).read_bytes() == (SHIPPED / ONNX_FILE).read_bytes()
    assert without_time(target / METADATA_FILE) == without_time(SHIPPED / METADATA_FILE)
    with pytest.raises(ModelRepositoryError, match="already exists"):
        import_detector(SHIPPED / ONNX_FILE, tmp_path / "person_detector", version=1, force=False)


def test_another_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "yolox_nano.onnx"
    other.write_bytes((SHIPPED / ONNX_FILE).read_bytes()[:-1])
    assert main([str(other), "--out", str(tmp_path / "out")]) == 1
    assert "the recorded upstream file has" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_converted_mindir_is_listed_beside_the_onnx_file(tmp_path: Path) -> None:
    mindir = write_mindir_interface(tmp_path / "converted.mindir", "images", [-1, 3, 416, 416])
    written = import_detector(SHIPPED / ONNX_FILE, tmp_path / "out", version=2, force=False, mindir=mindir)
    target = tmp_path / "out" / "2"
    assert (target / MINDIR_FILE).read_bytes() == mindir.read_bytes()
    assert written.files[MINDIR_FILE].sha256 == sha256_file(mindir)
    assert "input images [-1, 3, 416, 416]" in written.exporter[MINDIR_FILE]
    verify_file(target, read_detector_metadata(target), MINDIR_FILE)


@pytest.mark.parametrize(
    ("dims", "written"),
    [([1, 416, 416, 3], True), ([2, 3, 416, 416], True), ([1, 3, 320, 320], True), (None, False)],
)
def test_a_converted_mindir_of_another_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dims: list[int] | None, written: bool
) -> None:
    mindir = tmp_path / "converted.mindir"
    if written:
        write_mindir_interface(mindir, "images", dims)
    else:
        mindir.write_bytes(b"\xff\xff not a protobuf")
    argv = [str(SHIPPED / ONNX_FILE), "--out", str(tmp_path / "out"), "--mindir", str(mindir)]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert ("--inputDataFormat=NCHW" if written else "not a readable MINDIR") in error
    assert not (tmp_path / "out").exists()
