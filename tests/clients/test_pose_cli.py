"""clients.pose: argument errors, the printed answer and the drawing, against the stub service."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from stub_service import StubDetection, stub_keypoints

from clients.api import parse_person, pose_arrays
from clients.pose import EXIT_OK, EXIT_SERVICE, main
from core.drawing import draw_poses


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.png"
    cv2.imwrite(str(path), np.zeros((120, 160, 3), np.uint8))
    return path


def test_prints_the_answer_and_draws_it(stub, image_file, tmp_path, capsys):
    behaviour, url = stub
    out = tmp_path / "drawn.png"
    code = main(
        [str(image_file), "--box", "10,20,60,100", "--box=-5,0,50,80", "--url", url, "--draw", str(out)]
    )

    assert code == EXIT_OK
    (request,) = behaviour.requests
    assert request["persons"] == [{"box": [10.0, 20.0, 60.0, 100.0]}, {"box": [-5.0, 0.0, 50.0, 80.0]}]
    assert request["flip"] == "true" and request["filename"] == "people.png"
    body = json.loads(capsys.readouterr().out)
    first = body["persons"][0]["keypoints"]
    assert [(k["x"], k["y"]) for k in first] == stub_keypoints(10.0, 20.0)
    drawn = cv2.imread(str(out))
    assert drawn.shape == (120, 160, 3) and drawn.any()


def test_without_boxes_the_detector_finds_the_persons_and_their_scores_are_listed_and_drawn(
    stub, image_file, tmp_path, capsys
):
    behaviour, url = stub
    behaviour.detections[image_file.name] = [
        StubDetection((10.0, 20.0, 60.0, 100.0), 0.9),
        StubDetection((80.0, 30.0, 150.0, 115.0), 0.55),
    ]
    out = tmp_path / "drawn.png"
    argv = [
        str(image_file),
        "--url",
        url,
        "--draw",
        str(out),
        "--detect-score",
        "0.5",
        "--detect-max-persons",
        "3",
    ]
    assert main(argv) == EXIT_OK

    (request,) = behaviour.requests
    assert request["persons"] is None and "persons" not in request["form"]
    assert request["form"] == {"flip": "true", "detect_score_threshold": "0.5", "detect_max_persons": "3"}
    captured = capsys.readouterr()
    body = json.loads(captured.out)
    assert [p["score"] for p in body["persons"]] == [0.9, 0.55]
    assert "the detector found 2 person(s)" in captured.err
    assert "person 1: box [10, 20, 60, 100], detection score 0.90" in captured.err
    assert "person 2: box [80, 30, 150, 115], detection score 0.55" in captured.err
    # the drawing is core's, with each detection score written in its box
    persons = [parse_person(p) for p in body["persons"]]
    black = np.zeros((120, 160, 3), np.uint8)
    with_scores = draw_poses(black, *pose_arrays(persons), box_scores=np.array([0.9, 0.55]))
    assert (cv2.imread(str(out)) == with_scores).all()
    assert (with_scores != draw_poses(black, *pose_arrays(persons))).any()


def test_no_flip_is_sent(stub, image_file):
    behaviour, url = stub
    assert main([str(image_file), "--box", "1,2,30,40", "--url", url, "--no-flip"]) == EXIT_OK
    assert behaviour.requests[0]["flip"] == "false"


def test_a_refusal_is_reported_with_the_service_message(stub, image_file, capsys):
    behaviour, url = stub
    behaviour.refuse_images = frozenset({image_file.name})
    assert main([str(image_file), "--box", "1,2,30,40", "--url", url]) == EXIT_SERVICE
    assert "HTTP 422: cannot decode people.png" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--box", "1,2,3"], "expected four finite numbers"),
        (["--box", "1,2,a,4"], "expected four numbers"),
        (["--box", "10,10,5,20"], "is empty"),
        (["--box", "1,2,nan,4"], "expected four finite numbers"),
        (["--box", "1,2,30,40", "--detect-score", "0.5"], "apply only without --box"),
        (["--box", "1,2,30,40", "--draw", "out.unknownext"], "cannot write that file type"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(image_file, capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        main([str(image_file), *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_image_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path / "nope.jpg"), "--box", "1,2,30,40"])
    assert exited.value.code == 2
    assert "does not exist" in capsys.readouterr().err
