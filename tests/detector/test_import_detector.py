"""training.import_detector rebuilds the shipped version folder from the upstream file and refuses others."""

import json
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from core.model_repo import METADATA_FILE, ONNX_FILE, ModelRepositoryError, read_detector_metadata
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
