"""clients.eval_mpii against a stub service: entries, missing images, resume, retries, refusals, CLI, and
end to end with detected persons (--detect)."""

from pathlib import Path

import numpy as np
import pytest
from mpii_layout import make_layout
from stub_service import StubDetection, stub_keypoints

from clients.api import DetectionRequest
from clients.eval_mpii import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_REFUSED,
    MISSED_XY,
    MISSING_FILE,
    PREDICTIONS_FILE,
    RESULT_FILE,
    EvalConfig,
    evaluate,
    main,
)
from clients.http import ClientSettings, RetryPolicy
from clients.progress import PROGRESS_FILE, ProgressMismatchError
from core.metrics import score_predictions
from core.mpii import read_annotations, read_predictions

NO_WAIT = RetryPolicy(attempts=4, backoff_s=0.0)


def expected_preds(annotations_path: Path, count: int) -> np.ndarray:
    centers = read_annotations(annotations_path).center[:count]
    return np.array([stub_keypoints(cx, cy) for cx, cy in centers])


def run(mpii: Path, out: Path, url: str, **options: object) -> tuple:
    config = EvalConfig(annotations=mpii / "annot" / "valid.h5", images=mpii / "images", out=out, **options)
    return config, evaluate(config, ClientSettings(base_url=url, retry=NO_WAIT))


def test_first_five_mpii_entries_are_sent_with_their_centre_and_scale(mpii_dir, stub, tmp_path):
    behaviour, url = stub
    config, outcome = run(mpii_dir, tmp_path, url, limit=5)

    annotations = read_annotations(config.annotations).subset(5)
    sent = {r["filename"]: r["persons"] for r in behaviour.requests}
    for entry in range(5):
        (person,) = sent[annotations.imgname[entry]]
        assert person["center"] == pytest.approx(annotations.center[entry])
        assert person["scale"] == pytest.approx(annotations.scale[entry])
    assert {r["flip"] for r in behaviour.requests} == {"true"}
    preds = read_predictions(tmp_path / PREDICTIONS_FILE)
    np.testing.assert_allclose(preds, expected_preds(config.annotations, 5))
    assert outcome.exit_status == EXIT_OK
    assert outcome.missing == [] and outcome.sent == 5
    result = (tmp_path / RESULT_FILE).read_text()
    assert score_predictions(annotations, preds).text() in result
    assert "with predictions (scored): 5; image missing (not scored, see missing_images.txt): 0" in result


def test_missing_images_are_counted_apart_and_never_scored(mpii_dir, stub, tmp_path):
    behaviour, url = stub
    config, outcome = run(mpii_dir, tmp_path, url, limit=9)

    assert outcome.missing == [5, 6, 7, 8]
    assert len(behaviour.requests) == 5
    preds = read_predictions(tmp_path / PREDICTIONS_FILE)
    assert preds.shape == (9, 16, 2)
    assert np.isnan(preds[5:]).all()
    np.testing.assert_allclose(preds[:5], expected_preds(config.annotations, 5))
    annotations = read_annotations(config.annotations).subset(9)
    scored_on_five = score_predictions(annotations.select(np.arange(5)), preds[:5]).text()
    assert scored_on_five in (tmp_path / RESULT_FILE).read_text()
    listed = (tmp_path / MISSING_FILE).read_text().splitlines()
    assert listed == [f"{e}\t{annotations.imgname[e]}" for e in range(5, 9)]
    assert outcome.exit_status == EXIT_OK


def test_rerun_resumes_and_sends_only_what_is_left(mpii_dir, stub, tmp_path):
    behaviour, url = stub
    run(mpii_dir, tmp_path, url, limit=2)
    assert len(behaviour.requests) == 2
    config, outcome = run(mpii_dir, tmp_path, url, limit=5)

    assert len(behaviour.requests) == 5
    assert outcome.resumed == 2 and outcome.sent == 3
    np.testing.assert_allclose(
        read_predictions(tmp_path / PREDICTIONS_FILE), expected_preds(config.annotations, 5)
    )


def test_a_torn_progress_line_is_sent_again(mpii_dir, stub, tmp_path):
    _, url = stub
    run(mpii_dir, tmp_path, url, limit=3)
    progress = tmp_path / PROGRESS_FILE
    lines = progress.read_text().splitlines()
    progress.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # crash mid-write of the last entry

    _, outcome = run(mpii_dir, tmp_path, url, limit=3)
    assert outcome.resumed == 2 and outcome.sent == 1
    assert np.isfinite(read_predictions(tmp_path / PREDICTIONS_FILE)).all()
    _, again = run(mpii_dir, tmp_path, url, limit=3)
    assert again.resumed == 3 and again.sent == 0


def test_progress_of_another_setting_is_not_mixed_in(mpii_dir, stub, tmp_path):
    _, url = stub
    run(mpii_dir, tmp_path, url, limit=2)
    with pytest.raises(ProgressMismatchError, match="flip"):
        run(mpii_dir, tmp_path, url, limit=2, flip=False)


def test_503_is_retried_honouring_retry_after(mpii_dir, stub, tmp_path):
    behaviour, url = stub
    behaviour.unavailable_first = 3
    behaviour.retry_after = "0.2"
    _, outcome = run(mpii_dir, tmp_path, url, limit=2, concurrency=1)

    assert outcome.retries == 3
    assert outcome.exit_status == EXIT_OK
    assert np.isfinite(outcome.preds).all()
    assert outcome.elapsed_s >= 3 * 0.2


def test_a_refused_image_is_reported_and_the_rest_goes_on(mpii_dir, stub, tmp_path):
    behaviour, url = stub
    annotations = read_annotations(mpii_dir / "annot" / "valid.h5")
    behaviour.refuse_images = frozenset({annotations.imgname[1]})
    _, outcome = run(mpii_dir, tmp_path, url, limit=5)

    assert list(outcome.refused) == [1]
    assert "HTTP 422" in outcome.refused[1] and annotations.imgname[1] in outcome.refused[1]
    assert outcome.exit_status == EXIT_REFUSED
    assert outcome.predicted.tolist() == [True, False, True, True, True]
    assert "refused by the service (not scored): 1" in (tmp_path / RESULT_FILE).read_text()


def test_unreachable_service_aborts_and_a_rerun_resumes(mpii_dir, stub, tmp_path):
    _, url = stub
    dead = ClientSettings(base_url="http://127.0.0.1:9", retry=RetryPolicy(attempts=2, backoff_s=0.0))
    config = EvalConfig(mpii_dir / "annot" / "valid.h5", mpii_dir / "images", tmp_path, limit=3)
    outcome = evaluate(config, dead)
    assert outcome.exit_status == EXIT_ABORTED
    assert "ABORTED" in (tmp_path / RESULT_FILE).read_text()
    assert not outcome.predicted.any()

    _, resumed = run(mpii_dir, tmp_path, url, limit=3)
    assert resumed.exit_status == EXIT_OK and resumed.sent == 3


def test_persons_of_one_image_share_a_request(stub, tmp_path):
    behaviour, url = stub
    names = ["a.png", "a.png", "a.png", "b.png", "c.png", "b.png"]
    layout = make_layout(tmp_path / "synth", names, present={"a.png", "b.png"})
    _, outcome = run(layout, tmp_path / "out", url, persons_per_request=2)

    per_request = sorted((r["filename"], len(r["persons"])) for r in behaviour.requests)
    assert per_request == [("a.png", 1), ("a.png", 2), ("b.png", 2)]
    assert outcome.missing == [4]
    np.testing.assert_allclose(
        outcome.preds[[0, 1, 2, 3, 5]], expected_preds(layout / "annot" / "valid.h5", 6)[[0, 1, 2, 3, 5]]
    )


def test_cli_runs_no_flip_with_api_key_and_prints_the_result(mpii_dir, stub, tmp_path, capsys):
    behaviour, url = stub
    argv = ["--annot", str(mpii_dir / "annot" / "valid.h5"), "--images", str(mpii_dir / "images")]
    argv += ["--url", url, "--out", str(tmp_path), "--limit", "2", "--no-flip", "--api-key", "sesame"]
    assert main(argv) == EXIT_OK

    assert {r["flip"] for r in behaviour.requests} == {"false"}
    assert {r["authorization"] for r in behaviour.requests} == {"Bearer sesame"}
    assert "Val PCK @, 0.5 , total" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--limit", "0"], "must be at least 1"),
        (["--concurrency", "many"], "is not an integer"),
        (["--images", "/nonexistent/images"], "is not a folder"),
    ],
)
def test_cli_rejects_bad_arguments(mpii_dir, tmp_path, capsys, extra, message):
    argv = ["--annot", str(mpii_dir / "annot" / "valid.h5"), "--images", str(mpii_dir / "images")]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--out", str(tmp_path), *extra])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_reports_an_unreadable_annotation_file(mpii_dir, tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    code = main(["--annot", str(bad), "--images", str(mpii_dir / "images"), "--out", str(tmp_path / "o")])
    assert code == EXIT_ABORTED
    assert "not a readable HDF5 file" in capsys.readouterr().err


def spread_persons() -> np.ndarray:
    """Four persons' joints (1-based MPII pixels) on a 4x4 grid each: three side by side in a.png (x 2-18,
    24-40, 46-62) and one in b.png."""
    xs, ys = np.meshgrid(np.linspace(0, 16, 4), np.linspace(4, 44, 4))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    return grid[None] + np.array([[2, 0], [24, 0], [46, 0], [10, 0]])[:, None]


def joints_box(joints: np.ndarray, margin: float = 2.0) -> tuple[float, float, float, float]:
    """A detected box around a person's joints (0-based, as the service answers)."""
    x1, y1 = joints.min(axis=0) - 1 - margin
    x2, y2 = joints.max(axis=0) - 1 + margin
    return float(x1), float(y1), float(x2), float(y2)


def test_detect_matches_detections_to_annotated_persons_and_scores_the_missed_as_wrong(stub, tmp_path):
    behaviour, url = stub
    part = spread_persons()
    names = ["a.png", "a.png", "a.png", "b.png", "c.png"]
    layout = make_layout(
        tmp_path / "synth", names, present={"a.png", "b.png"}, part=np.concatenate([part, part[:1]])
    )
    exact = [[(float(x), float(y)) for x, y in joints - 1] for joints in part]  # right to the pixel
    behaviour.detections = {
        # person 1 found with its exact joints, person 0 with the stub's keypoints, person 2 missed
        "a.png": [StubDetection(joints_box(part[1]), 0.9, exact[1]), StubDetection(joints_box(part[0]), 0.8)],
        "b.png": [
            StubDetection((40.0, 2.0, 60.0, 40.0), 0.7),
            StubDetection(joints_box(part[3]), 0.6, exact[3]),
        ],
    }
    detection = DetectionRequest(score_threshold=0.5)
    _, outcome = run(layout, tmp_path / "out", url, detection=detection, persons_per_request=1)

    assert sorted(r["filename"] for r in behaviour.requests) == ["a.png", "b.png"]  # one request per image
    assert all(r["persons"] is None for r in behaviour.requests)
    assert {r["form"]["detect_score_threshold"] for r in behaviour.requests} == {"0.5"}
    assert outcome.missed == [2] and outcome.missing == [4]
    preds = read_predictions(tmp_path / "out" / PREDICTIONS_FILE)
    np.testing.assert_allclose(preds[[1, 3]], part[[1, 3]] - 1)
    np.testing.assert_allclose(preds[0], stub_keypoints(*joints_box(part[0])[:2]))
    assert (preds[2] == MISSED_XY).all() and np.isnan(preds[4]).all()

    annotations = read_annotations(layout / "annot" / "valid.h5")
    report = score_predictions(annotations.select(np.arange(4)), preds[:4])
    found_only = score_predictions(annotations.select(np.array([0, 1, 3])), preds[[0, 1, 3]])
    # the missed person's 16 joints are counted, none of them correct
    assert report.seed.count["all"]["total"] == found_only.seed.count["all"]["total"] + 16
    assert report.seed.correct["all"]["total"] == found_only.seed.correct["all"]["total"] >= 32
    result = (tmp_path / "out" / RESULT_FILE).read_text()
    assert report.text() in result
    assert "detection (detect_score_threshold=0.5): found 3 of 4 annotated persons (75.0%)" in result

    _, again = run(layout, tmp_path / "out", url, detection=detection)
    assert again.sent == 0 and again.resumed == 4 and again.missed == [2]
    with pytest.raises(ProgressMismatchError, match="detection"):
        run(layout, tmp_path / "out", url)


def test_detect_matches_one_to_one_among_everyone_annotated_in_the_image(stub, tmp_path):
    """A box around two annotated persons stands for one of them at most, and an evaluated entry is matched
    against the image's other annotated persons too (here: entries the --limit leaves out)."""
    behaviour, url = stub
    part = spread_persons()
    layout = make_layout(tmp_path / "synth", ["a.png"] * 3, present={"a.png"}, part=part[:3])
    # holds 3 of person 0's 4 columns of joints and all of person 1's; it overlaps person 1's more
    shared = (3.0, 3.0, 41.0, 43.0)
    behaviour.detections = {"a.png": [StubDetection(shared, 0.8)]}
    _, first_only = run(layout, tmp_path / "one", url, detection=DetectionRequest(), limit=1)
    assert first_only.sent == 1 and first_only.missed == [0]  # the box is person 1's

    _, everyone = run(layout, tmp_path / "all", url, detection=DetectionRequest())
    assert everyone.missed == [0, 2]
    np.testing.assert_allclose(everyone.preds[1], stub_keypoints(3.0, 3.0))


def test_cli_detect_sends_the_detection_options(mpii_dir, stub, tmp_path, capsys):
    behaviour, url = stub
    argv = ["--annot", str(mpii_dir / "annot" / "valid.h5"), "--images", str(mpii_dir / "images")]
    argv += ["--url", url, "--out", str(tmp_path), "--limit", "2", "--detect", "--detector", "people"]
    assert main([*argv, "--detect-max-persons", "5"]) == EXIT_OK

    assert [r["persons"] for r in behaviour.requests] == [None, None]
    assert {r["form"]["detector"] for r in behaviour.requests} == {"people"}
    out = capsys.readouterr().out
    assert "found 0 of 2 annotated persons (0.0%); the 2 missed are scored with every joint wrong" in out
    assert "Val PCK @, 0.5 , total : 0.0" in out


def test_cli_detection_options_need_detect(mpii_dir, tmp_path, capsys):
    argv = ["--annot", str(mpii_dir / "annot" / "valid.h5"), "--images", str(mpii_dir / "images")]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--out", str(tmp_path), "--detect-score", "0.4"])
    assert exited.value.code == 2
    assert "apply only with --detect" in capsys.readouterr().err
