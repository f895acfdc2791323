"""The resumable record of a batch evaluation: one JSON line per finished MPII entry.

An append-only JSON-lines file survives a crash or Ctrl-C at any point (a torn last line is ignored), and
a rerun reads it back to skip what is done. Its first line pins what the lines mean (which annotation
entries, flip test or not, which model was asked for), so a rerun with other settings cannot silently
mix two kinds of predictions.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import numpy as np

from core.joints import NUM_JOINTS
from core.mpii import MpiiAnnotations

PROGRESS_FILE = "progress.jsonl"


class ProgressMismatchError(ValueError):
    """The output folder holds progress made with other annotations or settings."""


@dataclass(frozen=True)
class RunIdentity:
    """What must match for earlier predictions to be reused. `detection` None: the annotated persons were
    sent; else the detector found them, asked with these form fields (JSON)."""

    annotations_sha256: str
    flip: bool
    model: str | None
    version: int | None
    detection: str | None = None


@dataclass(frozen=True)
class EntryResult:
    entry: int
    keypoints: np.ndarray  # (16, 2) image pixels; NaN: the detector found no box for this person
    scores: np.ndarray  # (16,)
    served_by: str  # "name:version" of the model that answered


def annotations_fingerprint(annotations: MpiiAnnotations) -> str:
    """Hash of what a request is made of (image name, centre, scale) for every entry, in order."""
    digest = hashlib.sha256()
    digest.update("\n".join(annotations.imgname).encode())
    digest.update(np.ascontiguousarray(annotations.center, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(annotations.scale, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _parse_entry(line: str) -> EntryResult | None:
    try:
        record = json.loads(line)
        keypoints = np.asarray(record["keypoints"], dtype=np.float64)
        scores = np.asarray(record["scores"], dtype=np.float64)
        result = EntryResult(int(record["entry"]), keypoints, scores, str(record["served_by"]))
    except (ValueError, KeyError, TypeError):
        return None
    if keypoints.shape != (NUM_JOINTS, 2) or scores.shape != (NUM_JOINTS,):
        return None
    return result


class ProgressLog:
    """Open with `ProgressLog.open(out_dir, identity)`; `.done` holds what earlier runs finished."""

    def __init__(self, path: Path, handle: IO[str], done: dict[int, EntryResult]) -> None:
        self.path = path
        self._handle = handle
        self.done = done

    @classmethod
    def open(cls, out_dir: Path, identity: RunIdentity) -> "ProgressLog":
        """Read earlier progress (raising ProgressMismatchError if it was made differently), then append."""
        path = out_dir / PROGRESS_FILE
        out_dir.mkdir(parents=True, exist_ok=True)
        done: dict[int, EntryResult] = {}
        header = json.dumps(asdict(identity), sort_keys=True)
        if path.is_file() and path.stat().st_size > 0:
            lines = path.read_text().splitlines()
            try:
                earlier = RunIdentity(**json.loads(lines[0]))
            except (ValueError, TypeError) as error:
                raise ProgressMismatchError(f"{path} does not start with a run header: {error}") from error
            if earlier != identity:
                raise ProgressMismatchError(
                    f"{path} was made with {earlier}, this run is {identity}; "
                    "use another --out or delete that folder to start over"
                )
            for line in lines[1:]:
                result = _parse_entry(line)
                if result is not None:
                    done[result.entry] = result
            handle = path.open("a")
            if not path.read_text().endswith("\n"):
                handle.write("\n")  # a torn last line must not swallow the next record
        else:
            handle = path.open("w")
            handle.write(header + "\n")
        handle.flush()
        return cls(path, handle, done)

    def record(self, results: list[EntryResult]) -> None:
        """Append finished entries and flush, so that a crash right after loses none of them."""
        for result in results:
            line = {
                "entry": result.entry,
                "keypoints": result.keypoints.tolist(),
                "scores": result.scores.tolist(),
                "served_by": result.served_by,
            }
            self._handle.write(json.dumps(line) + "\n")
            self.done[result.entry] = result
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
