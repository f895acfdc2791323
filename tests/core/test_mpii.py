import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import MPII_ANNOTATIONS

from core.mpii import (
    AnnotationError,
    read_annotations,
    read_predictions,
    write_annotations,
    write_predictions,
)

GROUP_COUNTS = {
    "ankle": 4234,
    "knee": 4963,
    "hip": 5777,
    "pelvis": 2878,
    "thorax": 2932,
    "neck": 2932,
    "head": 2931,
    "wrist": 5837,
    "elbow": 5867,
    "shoulder": 5888,
}


@pytest.fixture(scope="module")
def valid_h5() -> Path:
    return MPII_ANNOTATIONS


def test_valid_split_counts_match_the_reference(valid_h5: Path) -> None:
    from core.joints import EVAL_GROUPS

    annotations = read_annotations(valid_h5)
    assert len(annotations) == 2958
    assert len(set(annotations.imgname)) == 2729
    assert annotations.annotated.sum() == 44239
    for group, joints in EVAL_GROUPS.items():
        assert annotations.annotated[:, list(joints)].sum() == GROUP_COUNTS[group]
    assert annotations.imgname[0] == "005808361.jpg"
    assert np.allclose(annotations.normalize, 20 * annotations.scale)


def test_round_trip_and_selection(valid_h5: Path, tmp_path: Path) -> None:
    annotations = read_annotations(valid_h5).subset(7)
    write_annotations(tmp_path / "a.h5", annotations)
    again = read_annotations(tmp_path / "a.h5")
    assert again.imgname == annotations.imgname
    assert np.array_equal(again.part, annotations.part)
    picked = again.select(np.array([3, 1]))
    assert picked.imgname == (annotations.imgname[3], annotations.imgname[1])
    assert np.array_equal(picked.center[0], annotations.center[3])


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="does not exist"):
        read_annotations(tmp_path / "nope.h5")


def test_missing_field_is_named(valid_h5: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.h5"
    with h5py.File(valid_h5) as source, h5py.File(path, "w") as target:
        for name in source:
            if name != "normalize":
                target[name] = source[name][:10]
    with pytest.raises(AnnotationError, match="normalize"):
        read_annotations(path)


def test_inconsistent_shapes_are_reported(valid_h5: Path, tmp_path: Path) -> None:
    path = tmp_path / "short.h5"
    with h5py.File(valid_h5) as source, h5py.File(path, "w") as target:
        for name in source:
            target[name] = source[name][:9] if name == "scale" else source[name][:10]
    with pytest.raises(AnnotationError, match="'scale' has shape"):
        read_annotations(path)


def test_not_hdf5_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "text.h5"
    path.write_text("hello")
    with pytest.raises(AnnotationError, match="not a readable HDF5"):
        read_annotations(path)


def test_predictions_round_trip_and_shape_check(tmp_path: Path) -> None:
    preds = np.random.default_rng(0).uniform(0, 100, (4, 16, 2))
    write_predictions(tmp_path / "p.h5", preds)
    assert np.array_equal(read_predictions(tmp_path / "p.h5"), preds)
    write_predictions(tmp_path / "bad.h5", preds[:, :15])
    with pytest.raises(AnnotationError, match=r"expected \(N, 16, 2\)"):
        read_predictions(tmp_path / "bad.h5")


def test_joint_boxes_span_the_annotated_joints_only(valid_h5: Path) -> None:
    annotations = read_annotations(valid_h5).subset(2)
    part = annotations.part.copy()
    part[1] = 0.0
    part[1, :3] = [[50.0, 60.0], [10.0, 90.0], [30.0, 20.0]]  # three annotated joints, the rest (0, 0)
    boxes = dataclasses.replace(annotations, part=part).joint_boxes()
    first = annotations.part[0][annotations.annotated[0]]
    np.testing.assert_array_equal(boxes[0], [*first.min(axis=0), *first.max(axis=0)])
    np.testing.assert_array_equal(boxes[1], [10.0, 20.0, 50.0, 90.0])
