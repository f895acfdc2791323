"""MPII annotation files (the reference's h5 layout: docs/reference.md#annotation-format) and predictions.

Annotation coordinates are MPII's own 1-based pixels; a joint that is not annotated is (0, 0).
"""

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from core.joints import NUM_JOINTS

PREDICTIONS_DATASET = "preds"
# Five real MPII validation persons, shipped so that checks on real photographs run from any install: the
# full validation annotation (2958 entries) and the images of entries 0-4.
MPII_SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "mpii_sample"
MPII_SAMPLE_PERSONS = 5


class AnnotationError(ValueError):
    """An annotation or prediction file is missing, lacks a field or has inconsistent shapes."""


@dataclass(frozen=True)
class MpiiAnnotations:
    imgname: tuple[str, ...]
    center: np.ndarray  # (N, 2)
    scale: np.ndarray  # (N,)
    part: np.ndarray  # (N, 16, 2)
    visible: np.ndarray  # (N, 16)
    normalize: np.ndarray  # (N,)
    index: np.ndarray  # (N,)
    person: np.ndarray  # (N,)
    torsoangle: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.imgname)

    @property
    def annotated(self) -> np.ndarray:
        """(N, 16) bool: the seed's rule, a joint counts when its x is not 0."""
        return self.part[..., 0] != 0

    def joint_boxes(self) -> np.ndarray:
        """(N, 4) x1 y1 x2 y2: the box around each person's annotated joints, head top to ankles. Tighter than
        the whole person (feet, hands, hair reach past the joints), but unlike the square that centre and
        scale describe, it has the person's shape, so IoU with a detected person box is meaningful."""
        annotated = self.annotated[..., None]
        low = np.where(annotated, self.part, np.inf).min(axis=1)
        high = np.where(annotated, self.part, -np.inf).max(axis=1)
        return np.concatenate([low, high], axis=1)

    def subset(self, count: int) -> "MpiiAnnotations":
        """The first `count` entries."""
        return self.select(np.arange(min(count, len(self))))

    def select(self, indices: np.ndarray) -> "MpiiAnnotations":
        """The entries at `indices` (integer positions), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        return MpiiAnnotations(
            imgname=tuple(self.imgname[i] for i in indices),
            **{name: getattr(self, name)[indices] for name in _ARRAY_SHAPES},
        )


_ARRAY_SHAPES: dict[str, tuple[int, ...]] = {
    "center": (2,),
    "scale": (),
    "part": (NUM_JOINTS, 2),
    "visible": (NUM_JOINTS,),
    "normalize": (),
    "index": (),
    "person": (),
    "torsoangle": (),
}


def read_annotations(path: str | Path) -> MpiiAnnotations:
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation file {path} does not exist")
    try:
        with h5py.File(path, "r") as h5:
            missing = [name for name in ("imgname", *_ARRAY_SHAPES) if name not in h5]
            if missing:
                raise AnnotationError(f"{path} lacks the field(s) {', '.join(missing)}")
            names = tuple(
                n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(h5["imgname"][()]).ravel()
            )
            arrays = {name: np.asarray(h5[name][()], dtype=np.float64) for name in _ARRAY_SHAPES}
    except OSError as error:
        raise AnnotationError(f"{path} is not a readable HDF5 file: {error}") from error
    count = len(names)
    for name, shape in _ARRAY_SHAPES.items():
        if arrays[name].shape != (count, *shape):
            raise AnnotationError(
                f"{path}: field {name!r} has shape {arrays[name].shape}, expected {(count, *shape)} "
                f"for {count} entries"
            )
    return MpiiAnnotations(imgname=names, **arrays)


def write_annotations(path: str | Path, annotations: MpiiAnnotations) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        h5["imgname"] = np.array([n.encode() for n in annotations.imgname], dtype="S")
        for name in _ARRAY_SHAPES:
            h5[name] = np.asarray(getattr(annotations, name), dtype=np.float64)


def read_predictions(path: str | Path) -> np.ndarray:
    """(N, 16, 2) float64 predictions from the `preds` dataset; raises AnnotationError."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"prediction file {path} does not exist")
    try:
        with h5py.File(path, "r") as h5:
            if PREDICTIONS_DATASET not in h5:
                raise AnnotationError(f"{path} has no dataset {PREDICTIONS_DATASET!r}")
            preds = np.asarray(h5[PREDICTIONS_DATASET][()], dtype=np.float64)
    except OSError as error:
        raise AnnotationError(f"{path} is not a readable HDF5 file: {error}") from error
    if preds.ndim != 3 or preds.shape[1:] != (NUM_JOINTS, 2):
        raise AnnotationError(f"{path}: {PREDICTIONS_DATASET!r} has shape {preds.shape}, expected (N, 16, 2)")
    return preds


def write_predictions(path: str | Path, preds: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        h5[PREDICTIONS_DATASET] = np.asarray(preds, dtype=np.float64)
