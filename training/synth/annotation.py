"""A drawn figure as an MPII annotation: 1-based joints, (0, 0) outside the image, visibility from the
owner map, centre shifted by 15*s, scale padded by 1.25, normalize = 0.6 x the head-box diagonal."""

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from core.geometry import DEFAULT_BOX_PADDING, MPII_SCALE_UNIT
from core.joints import NUM_JOINTS
from core.mpii import MpiiAnnotations, read_annotations
from training.synth.drawing import owning_part
from training.synth.figure import Figure

MIN_ANNOTATED_JOINTS = 8
# MPII's centre lies 15*s below the person's middle (its scale is padded like a box, core.geometry).
CENTER_SHIFT = 15.0
HEAD_BOX_FACTOR = 0.6
# An extra dataset in the annotation h5: each person's style family. MPII readers ignore it.
FAMILY_DATASET = "family"


@dataclass(frozen=True)
class Entry:
    """One annotated person, in MPII's conventions."""

    part: np.ndarray  # (16, 2) 1-based, (0, 0) when outside the image
    visible: np.ndarray  # (16,)
    center: np.ndarray
    scale: float
    normalize: float
    person: int
    torsoangle: float
    family: str


def annotate(figure: Figure, owner: np.ndarray, figure_index: int, family: str) -> Entry:
    """The figure's entry; a joint is visible where one of its own parts is on top in the owner map."""
    height, width = owner.shape
    joints = figure.joints
    # Inside means on a pixel centre's range (0 .. size - 1), so that the 1-based joint lies in 1 .. size.
    inside = np.all((joints >= 0) & (joints <= [width - 1, height - 1]), axis=1)
    visible = np.zeros(NUM_JOINTS)
    for joint in np.flatnonzero(inside):
        x, y = np.clip(np.round(joints[joint]).astype(int), 0, [width - 1, height - 1])
        top_figure, top_part = owning_part(owner[y, x])
        if top_figure == figure_index and joint in figure.parts[top_part].joints:
            visible[joint] = 1
    extent = np.vstack([joints, figure.head_box.reshape(2, 2)])
    low, high = extent.min(axis=0), extent.max(axis=0)
    raw_scale = float(np.max(high - low)) / MPII_SCALE_UNIT
    center = (low + high) / 2 + np.array([0.0, CENTER_SHIFT * raw_scale])
    head_size = figure.head_box[2:] - figure.head_box[:2]
    return Entry(
        part=np.where(inside[:, None], joints + 1.0, 0.0),
        visible=visible,
        center=center + 1.0,
        scale=DEFAULT_BOX_PADDING * raw_scale,
        normalize=HEAD_BOX_FACTOR * float(np.linalg.norm(head_size)),
        person=figure_index,
        torsoangle=figure.torso_angle_deg,
        family=family,
    )


def annotate_figures(figures: list[Figure], owner: np.ndarray, family: str) -> list[Entry]:
    """The figures' entries, keeping those with at least MIN_ANNOTATED_JOINTS joints inside the image."""
    entries = [annotate(figure, owner, i, family) for i, figure in enumerate(figures)]
    return [e for e in entries if np.count_nonzero(e.part[:, 0]) >= MIN_ANNOTATED_JOINTS]


def to_annotations(names: list[str], indices: list[int], entries: list[Entry]) -> MpiiAnnotations:
    """Entries (with their image names and image indices) as one MPII annotation table."""
    return MpiiAnnotations(
        imgname=tuple(names),
        center=np.array([e.center for e in entries]).reshape(-1, 2),
        scale=np.array([e.scale for e in entries]),
        part=np.array([e.part for e in entries]).reshape(-1, NUM_JOINTS, 2),
        visible=np.array([e.visible for e in entries]).reshape(-1, NUM_JOINTS),
        normalize=np.array([e.normalize for e in entries]),
        index=np.array(indices, dtype=np.float64),
        person=np.array([e.person for e in entries], dtype=np.float64),
        torsoangle=np.array([e.torsoangle for e in entries]),
    )


def write_families(path: Path, families: list[str]) -> None:
    """Add each person's family to an annotation file written by core.mpii.write_annotations."""
    with h5py.File(path, "a") as h5:
        if FAMILY_DATASET in h5:
            del h5[FAMILY_DATASET]
        h5[FAMILY_DATASET] = np.array([f.encode() for f in families], dtype="S")


def read_families(path: Path) -> tuple[str, ...]:
    """Each person's family; raises KeyError for a file that has none (not made by this generator)."""
    with h5py.File(path, "r") as h5:
        if FAMILY_DATASET not in h5:
            raise KeyError(f"{path} has no {FAMILY_DATASET!r} dataset: it was not written by training.synth")
        return tuple(name.decode() for name in np.asarray(h5[FAMILY_DATASET][()]).ravel())


def read_annotations_without(path: Path, excluded_families: tuple[str, ...]) -> MpiiAnnotations:
    """The file's persons less those of `excluded_families` (all of them when none is excluded)."""
    annotations = read_annotations(path)
    if not excluded_families:
        return annotations
    keep = [i for i, family in enumerate(read_families(path)) if family not in excluded_families]
    return annotations.select(np.array(keep, dtype=np.int64))
