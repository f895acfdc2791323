"""Evaluate a served model on an MPII-layout data set, the way the seed reports it.

    python -m clients.eval_mpii --annot ANNOT.h5 --images DIR --url URL [--concurrency N] [--flip/--no-flip]
        [--limit N] [--out DIR] [--api-key KEY] [--persons-per-request N] [--model NAME] [--version V]
        [--detect [--detector NAME] [--detector-version V] [--detect-score S] [--detect-max-persons N]
        [--detect-min-size PX]]

Every entry is sent with the annotation's own centre and scale, so the service crops what the reference
crops. The persons of one image go in one request (the image is read, uploaded and decoded once).

With --detect the persons are not sent: the service's detector finds them, one request per image, end to
end. Each annotated person of the image is matched to at most one detected person, one to one, by its
annotated joints (core.box_metrics.match_to_joints: at least half of them inside the detected box, which
overlaps their box with IoU >= 0.3; best overlap first), and gets that person's keypoints. A person the
detector missed counts with every joint wrong: its row of preds.h5 holds MISSED_XY, far outside any image,
so that `clients.score` counts it as result.txt does. result.txt says how many persons were found.

Outputs in --out:
- progress.jsonl: one line per finished entry; a rerun skips those entries (resume).
- preds.h5: dataset `preds` (N, 16, 2), 0-based image pixels, one row per entry of the (limited)
  annotation file. Rows without a prediction (image missing, request refused) are NaN, so that no scorer
  can count them as misses: `python -m clients.score` refuses such a file instead of scoring it.
- result.txt: counts, then the seed report and the official table over the entries that have predictions.
- missing_images.txt: the entries whose image file does not exist, counted apart and never scored.

Exit status: 0 when every entry with an image has a prediction, 1 when some requests were refused,
2 for bad arguments or when the run was aborted (service unreachable, unauthorised, ...).
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Never

import numpy as np
from tqdm import tqdm

from clients.api import DetectionRequest, PredictedPerson, center_scale_person, estimate_poses, pose_arrays
from clients.detection_options import add_detection_arguments, detection_request
from clients.http import ClientSettings, ServiceCallError, ServiceClient
from clients.progress import (
    EntryResult,
    ProgressLog,
    ProgressMismatchError,
    RunIdentity,
    annotations_fingerprint,
)
from core.box_metrics import match_to_joints
from core.joints import NUM_JOINTS
from core.metrics import ScoreReport, score_predictions
from core.mpii import AnnotationError, MpiiAnnotations, read_annotations, write_predictions

PREDICTIONS_FILE = "preds.h5"
RESULT_FILE = "result.txt"
MISSING_FILE = "missing_images.txt"
EXIT_OK, EXIT_REFUSED, EXIT_ABORTED = 0, 1, 2
# A refusal that concerns this request only; any other error (401, 404, 5xx, unreachable) stops the run.
PER_REQUEST_STATUS = frozenset({400, 413, 415, 422})
# The keypoints of an annotated person the detector did not find: far outside any image, so every joint of
# it is wrong under any PCK threshold.
MISSED_XY = -1.0e6


@dataclass(frozen=True)
class EvalConfig:
    annotations: Path
    images: Path
    out: Path
    flip: bool = True
    concurrency: int = 4
    limit: int | None = None
    persons_per_request: int = 4
    model: str | None = None
    version: int | None = None
    show_progress: bool | None = None  # None: only on a terminal
    # None: send the annotated persons; else let the detector find them, asked like this
    detection: DetectionRequest | None = None


@dataclass(frozen=True)
class WorkUnit:
    """Entries of one image sent together."""

    imgname: str
    entries: tuple[int, ...]


@dataclass
class EvalOutcome:
    """Everything a run produced; `preds` rows are NaN where there is no prediction, MISSED_XY for the
    entries in `missed` (persons the detector did not find; with --detect only)."""

    preds: np.ndarray
    scores: np.ndarray
    missing: list[int]
    refused: dict[int, str]
    resumed: int
    sent: int
    elapsed_s: float
    retries: int
    served_by: list[str]
    report: ScoreReport | None
    aborted: str | None = None
    missed: list[int] = field(default_factory=list)
    out_files: list[Path] = field(default_factory=list)

    @property
    def predicted(self) -> np.ndarray:
        return np.isfinite(self.preds).all(axis=(1, 2))

    @property
    def persons_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    @property
    def exit_status(self) -> int:
        if self.aborted is not None:
            return EXIT_ABORTED
        return EXIT_REFUSED if self.refused else EXIT_OK


def plan_work(
    annotations: MpiiAnnotations, pending: list[int], persons_per_request: int
) -> Iterator[WorkUnit]:
    """Group pending entries by image, in file order, at most `persons_per_request` per unit."""
    by_image: dict[str, list[int]] = {}
    for entry in pending:
        by_image.setdefault(annotations.imgname[entry], []).append(entry)
    for imgname, entries in by_image.items():
        for start in range(0, len(entries), persons_per_request):
            yield WorkUnit(imgname, tuple(entries[start : start + persons_per_request]))


@dataclass(frozen=True)
class AnnotatedPersons:
    """Every annotated person of each image, from the whole annotation file (not only the entries evaluated),
    so that a detection is matched against everyone annotated in its image."""

    entries: dict[str, list[int]]
    joint_boxes: np.ndarray
    part: np.ndarray
    annotated: np.ndarray

    @classmethod
    def of(cls, annotations: MpiiAnnotations) -> "AnnotatedPersons":
        entries: dict[str, list[int]] = {}
        for entry, name in enumerate(annotations.imgname):
            entries.setdefault(name, []).append(entry)
        return cls(entries, annotations.joint_boxes(), annotations.part, annotations.annotated)

    def match(
        self, imgname: str, entries: tuple[int, ...], found: list[PredictedPerson]
    ) -> list[PredictedPerson | None]:
        """The detected person standing for each of `entries` (entries of image `imgname`), None if missed."""
        people = self.entries[imgname]
        # the service answers in 0-based pixels, MPII annotates in 1-based ones
        boxes = pose_arrays(found)[2] + 1.0
        chosen = match_to_joints(boxes, self.joint_boxes[people], self.part[people], self.annotated[people])
        detection_of = dict(zip(people, chosen.tolist(), strict=True))
        return [found[detection_of[e]] if detection_of[e] >= 0 else None for e in entries]


class _Run:
    """The asynchronous part: workers pull units from a queue and record what comes back."""

    def __init__(
        self,
        config: EvalConfig,
        annotations: MpiiAnnotations,
        log: ProgressLog,
        client: ServiceClient,
        progress: "tqdm[Never]",
        everyone: AnnotatedPersons | None = None,
    ) -> None:
        self.config = config
        self.annotations = annotations
        self.everyone = everyone
        self.log = log
        self.client = client
        self.progress = progress
        self.refused: dict[int, str] = {}
        self.sent = 0
        self.aborted: str | None = None

    async def run(self, units: list[WorkUnit]) -> None:
        queue: asyncio.Queue[WorkUnit] = asyncio.Queue()
        for unit in units:
            queue.put_nowait(unit)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.config.concurrency)]
        await asyncio.gather(*workers)

    async def _worker(self, queue: asyncio.Queue[WorkUnit]) -> None:
        while self.aborted is None and not queue.empty():
            unit = queue.get_nowait()
            try:
                await self._send(unit)
            except ServiceCallError as error:
                if error.status in PER_REQUEST_STATUS:
                    self._refuse(unit, str(error))
                else:
                    self.aborted = str(error)
            except OSError as error:
                self._refuse(unit, f"cannot read {unit.imgname}: {error}")

    def _refuse(self, unit: WorkUnit, message: str) -> None:
        self.refused.update(dict.fromkeys(unit.entries, message))
        self.progress.update(len(unit.entries))

    async def _send(self, unit: WorkUnit) -> None:
        image = await asyncio.to_thread((self.config.images / unit.imgname).read_bytes)
        detection = self.config.detection
        persons = None
        if detection is None:
            persons = [
                center_scale_person(self.annotations.center[e], self.annotations.scale[e])
                for e in unit.entries
            ]
        result = await estimate_poses(
            self.client,
            image,
            unit.imgname,
            persons,
            flip=self.config.flip,
            model=self.config.model,
            version=self.config.version,
            detection=detection or DetectionRequest(),
        )
        served_by = _served_by(result.body)
        poses: list[PredictedPerson | None] = list(result.persons)
        if self.everyone is not None:
            poses = self.everyone.match(unit.imgname, unit.entries, result.persons)
        self.log.record(
            [_entry_result(e, pose, served_by) for e, pose in zip(unit.entries, poses, strict=True)]
        )
        self.sent += len(unit.entries)
        self.progress.update(len(unit.entries))


def _served_by(body: dict[str, Any]) -> str:
    model = body.get("model") or {}
    return f"{model.get('name', '?')}:{model.get('version', '?')} ({model.get('backend', '?')})"


def _entry_result(entry: int, pose: PredictedPerson | None, served_by: str) -> EntryResult:
    """The entry's keypoints, or NaN for a person the detector missed."""
    if pose is None:
        return EntryResult(entry, np.full((NUM_JOINTS, 2), np.nan), np.full(NUM_JOINTS, np.nan), served_by)
    return EntryResult(entry=entry, keypoints=pose.keypoints, scores=pose.scores, served_by=served_by)


def evaluate(config: EvalConfig, settings: ClientSettings) -> EvalOutcome:
    """Run (or resume) an evaluation and write preds.h5, result.txt and missing_images.txt.

    Raises AnnotationError for an unreadable annotation file, ProgressMismatchError when --out holds
    progress of another run.
    """
    everything = read_annotations(config.annotations)
    identity = RunIdentity(
        annotations_sha256=annotations_fingerprint(everything),
        flip=config.flip,
        model=config.model,
        version=config.version,
        detection=None
        if config.detection is None
        else json.dumps(config.detection.form_fields(), sort_keys=True),
    )
    annotations = everything if config.limit is None else everything.subset(config.limit)
    count = len(annotations)
    missing = [e for e, name in enumerate(annotations.imgname) if not (config.images / name).is_file()]
    started = time.perf_counter()
    with ProgressLog.open(config.out, identity) as log:
        resumed = sum(1 for e in log.done if e < count)
        skip = set(log.done) | set(missing)
        pending = [e for e in range(count) if e not in skip]
        # with --detect, one request finds every person of an image
        per_request = config.persons_per_request if config.detection is None else max(1, len(pending))
        units = list(plan_work(annotations, pending, per_request))
        everyone = None if config.detection is None else AnnotatedPersons.of(everything)
        with tqdm(
            total=len(pending),
            unit="person",
            desc="eval_mpii",
            disable=None if config.show_progress is None else not config.show_progress,
            file=sys.stderr,
        ) as progress:
            run = asyncio.run(_evaluate_units(config, settings, annotations, log, progress, units, everyone))
        done = {e: r for e, r in log.done.items() if e < count}
    elapsed = time.perf_counter() - started
    preds = np.full((count, NUM_JOINTS, 2), np.nan)
    scores = np.full((count, NUM_JOINTS), np.nan)
    for entry, result in done.items():
        preds[entry] = result.keypoints
        scores[entry] = result.scores
    missed = sorted(e for e, result in done.items() if np.isnan(result.keypoints).all())
    preds[missed] = MISSED_XY
    rows = np.flatnonzero(np.isfinite(preds).all(axis=(1, 2)))
    report = score_predictions(annotations.select(rows), preds[rows]) if len(rows) else None
    outcome = EvalOutcome(
        preds=preds,
        scores=scores,
        missing=missing,
        refused=run.refused,
        resumed=resumed,
        sent=run.sent,
        elapsed_s=elapsed,
        retries=run.client.retries,
        served_by=sorted({r.served_by for r in done.values()}),
        report=report,
        aborted=run.aborted,
        missed=missed,
    )
    outcome.out_files = write_outputs(config, annotations, outcome, settings.base_url)
    return outcome


async def _evaluate_units(
    config: EvalConfig,
    settings: ClientSettings,
    annotations: MpiiAnnotations,
    log: ProgressLog,
    progress: "tqdm[Never]",
    units: list[WorkUnit],
    everyone: AnnotatedPersons | None,
) -> _Run:
    async with ServiceClient(settings, max_connections=config.concurrency) as client:
        run = _Run(config, annotations, log, client, progress, everyone)
        await run.run(units)
    return run


def write_outputs(
    config: EvalConfig, annotations: MpiiAnnotations, outcome: EvalOutcome, url: str
) -> list[Path]:
    out = config.out
    write_predictions(out / PREDICTIONS_FILE, outcome.preds)
    (out / MISSING_FILE).write_text("".join(f"{e}\t{annotations.imgname[e]}\n" for e in outcome.missing))
    (out / RESULT_FILE).write_text(result_text(config, outcome, url))
    return [out / PREDICTIONS_FILE, out / RESULT_FILE, out / MISSING_FILE]


def result_text(config: EvalConfig, outcome: EvalOutcome, url: str) -> str:
    count = len(outcome.preds)
    predicted = int(outcome.predicted.sum())
    lines = [
        "hourglass-pose MPII evaluation through the service",
        f"annotations: {config.annotations} (first {count} entries)"
        if config.limit is not None
        else f"annotations: {config.annotations} ({count} entries)",
        f"images: {config.images}",
        f"service: {url}; served by: {', '.join(outcome.served_by) or 'nobody'}",
        f"flip test: {'on' if config.flip else 'off'}",
        f"entries: {count}; with predictions (scored): {predicted}; "
        f"image missing (not scored, see {MISSING_FILE}): {len(outcome.missing)}; "
        f"refused by the service (not scored): {len(outcome.refused)}; "
        f"not done: {count - predicted - len(outcome.missing) - len(outcome.refused)}",
        f"this run: {outcome.sent} persons in {outcome.elapsed_s:.1f} s "
        f"({outcome.persons_per_s:.2f} persons/s), "
        f"{outcome.resumed} resumed from earlier runs, {outcome.retries} retries",
    ]
    if config.detection is not None:
        lines.append(found_line(config.detection, outcome))
    if outcome.aborted is not None:
        lines.append(f"ABORTED: {outcome.aborted}")
    for entry, message in sorted(outcome.refused.items()):
        lines.append(f"refused entry {entry}: {message}")
    lines.append("")
    lines.append(outcome.report.text() if outcome.report is not None else "no predictions to score")
    return "\n".join(lines) + "\n"


def found_line(detection: DetectionRequest, outcome: EvalOutcome) -> str:
    """How many of the scored persons the detector found (with --detect every scored entry was sought)."""
    scored = int(outcome.predicted.sum())
    found = scored - len(outcome.missed)
    share = f" ({100 * found / scored:.1f}%)" if scored else ""
    asked = ", ".join(f"{k}={v}" for k, v in detection.form_fields().items()) or "the service's settings"
    return (
        f"detection ({asked}): found {found} of {scored} annotated persons{share}; the {len(outcome.missed)} "
        "missed are scored with every joint wrong"
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clients.eval_mpii",
        description="Evaluate a served model on an MPII-layout data set (seed report + official PCKh).",
    )
    parser.add_argument("--annot", required=True, type=Path, help="annotation file in the valid.h5 layout")
    parser.add_argument("--images", required=True, type=Path, help="folder holding the images by imgname")
    parser.add_argument("--url", help="service base URL (default: $HGPOSE_URL or http://127.0.0.1:8000)")
    parser.add_argument("--api-key", help="bearer key (default: $HGPOSE_API_KEY)")
    parser.add_argument(
        "--out", type=Path, default=Path("eval_out"), help="output folder (default: eval_out)"
    )
    parser.add_argument("--concurrency", type=_positive_int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="flip test")
    parser.add_argument("--limit", type=_positive_int, help="only the first N entries")
    parser.add_argument(
        "--persons-per-request", type=_positive_int, default=4, help="persons of one image per request"
    )
    parser.add_argument("--model", help="model name (default: the service's default)")
    parser.add_argument("--version", type=_positive_int, help="model version (default: the newest)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    parser.add_argument(
        "--detect",
        action="store_true",
        help="send no persons: the service's detector finds them (end to end); annotated persons it misses "
        "count as wrong",
    )
    add_detection_arguments(parser, "detection (with --detect; default: the service's settings)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        parser.error(f"--images {args.images} is not a folder")
    detection = detection_request(args)
    if not args.detect and detection.form_fields():
        parser.error("the --detector and --detect-* options apply only with --detect")
    settings = ClientSettings.from_options(args.url, args.api_key, args.timeout)
    config = EvalConfig(
        annotations=args.annot,
        images=args.images,
        out=args.out,
        flip=args.flip,
        concurrency=args.concurrency,
        limit=args.limit,
        persons_per_request=args.persons_per_request,
        model=args.model,
        version=args.version,
        detection=detection if args.detect else None,
    )
    try:
        outcome = evaluate(config, settings)
    except (AnnotationError, ProgressMismatchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ABORTED
    print((config.out / RESULT_FILE).read_text(), end="")
    if outcome.missing:
        print(
            f"{len(outcome.missing)} entries have no image under {config.images}: not scored, "
            f"listed in {config.out / MISSING_FILE}",
            file=sys.stderr,
        )
    if outcome.aborted is not None:
        print(f"error: run aborted ({outcome.aborted}); rerun to resume", file=sys.stderr)
    return outcome.exit_status


if __name__ == "__main__":
    sys.exit(main())
