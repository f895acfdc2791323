"""clients.pose: argument errors, the printed answer and the drawing, against the stub service."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from stub_service import stub_keypoints

from clients.pose import EXIT_OK, EXIT_SERVICE, main


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
        ([], "the following arguments are required: --box"),
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
