"""clients.video against the real service (`running_service`: `python -m service` on the tiny exported
model, no detector): the JSON Lines written as streamed, the boxes sent, the drawing, the errors."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_clips import encode_clip, steady_pair

from clients.video import EXIT_OK, EXIT_SERVICE, main

pytestmark = pytest.mark.slow

FRAMES = 10


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "walkers.mp4"
    path.write_bytes(encode_clip(steady_pair(FRAMES), "mp4"))
    return path


def test_writes_each_line_with_a_progress_bar_and_draws_the_video(
    running_service: str, clip_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, drawn = tmp_path / "poses.jsonl", tmp_path / "drawn.mp4"
    boxes = ["--box", "40,60,90,140", "--box", "170,45,210,145"]
    code = main([str(clip_file), *boxes, "--url", running_service, "--out", str(out), "--draw", str(drawn)])
    assert code == EXIT_OK
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["frame"] for line in lines[:-1]] == list(range(FRAMES)) and lines[-1]["done"]
    sent = [[40.0, 60.0, 90.0, 140.0], [170.0, 45.0, 210.0, 145.0]]
    assert all(person["box"] in sent for person in lines[0]["persons"])
    errors = capsys.readouterr().err
    assert f"{FRAMES}/{FRAMES}" in errors and "frame" in errors  # tqdm's bar reached the end
    assert f"drew {FRAMES} frames on {drawn}" in errors

    capture = cv2.VideoCapture(str(drawn))
    written = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        written.append(image)
    capture.release()
    assert len(written) == FRAMES and written[0].shape == (192, 256, 3)
    original = cv2.VideoCapture(str(clip_file))
    ok, first = original.read()
    original.release()
    assert ok and np.abs(written[0].astype(int) - first.astype(int)).max() > 100  # skeletons are on it


def test_a_refusal_is_reported_and_the_exit_status_says_so(
    running_service: str, clip_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "poses.jsonl"
    code = main([str(clip_file), "--url", running_service, "--out", str(out)])  # no box, no detector
    assert code == EXIT_SERVICE
    assert "HTTP 422: no persons were given and no person detector is ready" in capsys.readouterr().err
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    assert main([str(not_video), "--box", "1,1,50,50", "--url", running_service, "--out", str(out)]) == 1
    assert "HTTP 415" in capsys.readouterr().err


def test_bad_arguments_exit_with_2(clip_file: Path, tmp_path: Path) -> None:
    for argv in (
        [str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "p.jsonl")],
        [str(clip_file), "--out", str(tmp_path / "p.jsonl"), "--draw", str(tmp_path / "d.avi")],
        [str(clip_file), "--out", str(tmp_path / "p.jsonl"), "--box", "5,5,1,1"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
