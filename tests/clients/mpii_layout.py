"""Synthetic MPII-layout folders for client tests: annotations where several persons share an image."""

from pathlib import Path

import cv2
import numpy as np

from core.mpii import MpiiAnnotations, write_annotations


def make_layout(
    root: Path, imgnames: list[str], present: set[str], seed: int = 0, part: np.ndarray | None = None
) -> Path:
    """A synthetic MPII-layout folder (annot/valid.h5, images/) whose persons sit inside 64x48 images, at
    random or with the joints `part` (N, 16, 2) given (then each centre is the middle of its joints)."""
    rng = np.random.default_rng(seed)
    count = len(imgnames)
    centers = np.column_stack([rng.uniform(20, 44, count), rng.uniform(15, 33, count)])
    if part is None:
        part = centers[:, None, :] + rng.uniform(-8, 8, (count, 16, 2))
    else:
        centers = (part.min(axis=1) + part.max(axis=1)) / 2
    annotations = MpiiAnnotations(
        imgname=tuple(imgnames),
        center=centers,
        scale=np.full(count, 0.2),
        part=part,
        visible=np.ones((count, 16)),
        normalize=np.full(count, 4.0),
        index=np.arange(count, dtype=np.float64),
        person=np.zeros(count),
        torsoangle=np.zeros(count),
    )
    write_annotations(root / "annot" / "valid.h5", annotations)
    (root / "images").mkdir(parents=True)
    for name in present:
        cv2.imwrite(str(root / "images" / name), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return root
