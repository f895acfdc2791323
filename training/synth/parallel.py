"""Rendering a split over a process pool: images in index order until enough persons are annotated.

Every image is a pure function of (seed, split, image index), so the output does not depend on the number
of worker processes.
"""

import math
import os
from multiprocessing import Pool
from multiprocessing.pool import Pool as ProcessPool
from pathlib import Path

import cv2

from core.mpii import MpiiAnnotations, write_annotations
from training.synth.annotation import Entry, to_annotations, write_families
from training.synth.families import FAMILIES
from training.synth.scene import DEFAULT_IMAGE_SIZE, image_name, render_image

EXPECTED_PERSONS_PER_IMAGE = 2.0


RenderTask = tuple[int, str, int, tuple[int, int], tuple[str, ...]]


def _render_task(task: RenderTask) -> tuple[bytes, list[Entry]]:
    seed, split, index, size_range, families = task
    image, entries = render_image(seed, split, index, size_range, families)
    quality = 80 + (index * 7919 + seed) % 16
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for image {index}")
    return encoded.tobytes(), entries


def generate_split(
    out: Path,
    split: str,
    count: int,
    seed: int,
    size_range: tuple[int, int],
    pool: ProcessPool,
    workers: int,
    families: tuple[str, ...] = FAMILIES,
) -> MpiiAnnotations:
    """Render images in order until `count` persons are annotated; write images/ and annot/<split>.h5
    (with each person's family as the extra dataset `family`)."""
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    indices: list[int] = []
    entries: list[Entry] = []
    next_index = 0
    while len(entries) < count:
        # Rounds sized by the persons per image seen so far, so little is rendered past `count`.
        per_image = len(entries) / next_index if entries else EXPECTED_PERSONS_PER_IMAGE
        batch = max(math.ceil((count - len(entries)) / per_image * 1.05), 4 * workers)
        tasks = [(seed, split, i, size_range, families) for i in range(next_index, next_index + batch)]
        for index, (encoded, image_entries) in zip(
            range(next_index, next_index + batch), pool.imap(_render_task, tasks, chunksize=4), strict=True
        ):
            kept = image_entries[: count - len(entries)]
            if kept:
                (images_dir / image_name(split, index)).write_bytes(encoded)
                names.extend([image_name(split, index)] * len(kept))
                indices.extend([index] * len(kept))
                entries.extend(kept)
        next_index += batch
    annotations = to_annotations(names, indices, entries)
    path = out / "annot" / f"{split}.h5"
    write_annotations(path, annotations)
    write_families(path, [e.family for e in entries])
    return annotations


def generate(
    out: Path,
    train: int,
    val: int,
    seed: int = 1,
    size_range: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    workers: int | None = None,
    families: tuple[str, ...] = FAMILIES,
) -> dict[str, MpiiAnnotations]:
    workers = workers or os.cpu_count() or 1
    with Pool(workers) as pool:
        return {
            split: generate_split(Path(out), split, count, seed, size_range, pool, workers, families)
            for split, count in (("train", train), ("valid", val))
        }
