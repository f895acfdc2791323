"""Detection + pose per image through the service: time per image, persons per second, the detector's share.

    python benchmarks/detect_pose_speed.py --model-repo REPO [--model NAME] [--version V]
        [--backend onnxruntime|openvino|...] [--detector NAME] [--detector-version V] [--image PHOTO]
        [--requests 20] [--clients 2] [--seconds 10]

e.g. fp32 on the shipped repository: `--model-repo model_repo --model hourglass --version 6`.

Starts `python -m service` on the repository (which must hold a person detector) and sends one photograph
without persons (default: the MPII sample 005808361.jpg, 1280x720, where the shipped detector finds three
people: two, and one cut off by the left edge), one request at a time: the detector finds the persons, the
pose model runs on each (with flip). The same persons are also sent as boxes, so that the pose step alone
is timed on the same work; the two kinds of request alternate. Per request the service's `timing_ms` says
how long the detection step took (`detection`: the detector's queue wait, inference and box decoding) out
of the request's `total`; the detector's share is the median of their ratio. Then `--clients` send
detection requests at once for `--seconds`: images and persons per second. Every figure is measured on the
machine it runs on, with the clients on the same cores as the service: on a machine shared with other work
they are upper bounds.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from service_latency import IMAGE, add_model_arguments, chosen_version, start_service


@dataclass(frozen=True)
class Timed:
    """One request: wall time seen by the client, the service's timing_ms and the persons answered."""

    wall_s: float
    timing_ms: dict[str, float]
    persons: list[dict[str, Any]]


def machine() -> str:
    """The CPU model and core count, from /proc/cpuinfo where there is one."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name}, {os.cpu_count()} cores"


def post(client: httpx.Client, fields: dict[str, str], image: bytes) -> Timed:
    started = time.perf_counter()
    response = client.post("/v1/pose", files={"image": ("photo.jpg", image, "image/jpeg")}, data=fields)
    wall = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"the service answered {response.status_code}: {response.text}")
    body = response.json()
    return Timed(wall, body["timing_ms"], body["persons"])


def run_paired(
    client: httpx.Client, first: dict[str, str], second: dict[str, str], image: bytes, count: int
) -> tuple[list[Timed], list[Timed]]:
    """`count` requests of each kind, alternating, so that a machine whose speed drifts moves both alike."""
    for _ in range(3):  # warm-up: first calls allocate
        post(client, first, image)
        post(client, second, image)
    pairs = [(post(client, first, image), post(client, second, image)) for _ in range(count)]
    return [a for a, _ in pairs], [b for _, b in pairs]


def run_concurrent(
    url: str, fields: dict[str, str], image: bytes, clients: int, seconds: float
) -> tuple[int, int, float]:
    """(images, persons, elapsed seconds) of `clients` callers sending back to back for `seconds`."""
    images, persons = [0] * clients, [0] * clients
    stop = time.monotonic() + seconds

    def call(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while time.monotonic() < stop:
                timed = post(client, fields, image)
                images[index] += 1
                persons[index] += len(timed.persons)

    started = time.monotonic()
    threads = [threading.Thread(target=call, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(images), sum(persons), time.monotonic() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def row(label: str, runs: list[Timed]) -> str:
    walls = [1000 * r.wall_s for r in runs]
    persons = statistics.median(len(r.persons) for r in runs)
    p50 = percentile(walls, 0.5)
    return f"{label:<34} {p50:>8.1f} {percentile(walls, 0.9):>8.1f} {1000 * persons / p50:>10.2f}"


def steps(runs: list[Timed]) -> str:
    """The median of each step the service's timing_ms reports, in its order."""
    medians = {key: statistics.median(r.timing_ms.get(key, 0.0) for r in runs) for key in runs[0].timing_ms}
    return ", ".join(f"{key} {value:.1f}" for key, value in medians.items())


def served(url: str, kind: str, name: str | None, version: int | None) -> str:
    """'name:version (precision)' of the model of `kind` the service runs for `name` and `version` (None:
    the only one, its default version); exits when it is not ready."""
    models = httpx.get(f"{url}/v1/models", timeout=30).json()["models"]
    candidates = [m for m in models if m["kind"] == kind and name in (None, m["name"])]
    if not candidates:
        raise SystemExit(f"the repository holds no {kind} model {name or ''}")
    chosen = candidates[0]
    number = version or chosen["default_version"]
    entry = next((v for v in chosen["versions"] if v["version"] == number), None)
    if entry is None or entry["status"] != "ready":
        raise SystemExit(f"{kind} model {chosen['name']}:{number} is not ready: {entry}")
    return f"{chosen['name']}:{number} ({entry['precision']})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--detector", help="detector model (default: the only one)")
    parser.add_argument("--detector-version", type=int, help="detector version (default: the newest)")
    parser.add_argument("--image", type=Path, default=IMAGE, help="a JPEG photograph with people")
    parser.add_argument("--requests", type=int, default=20, help="timed requests of each kind, one at a time")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients for the throughput")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the clients send")
    args = parser.parse_args()

    name, version, _ = chosen_version(args)
    image = args.image.read_bytes()
    fields = {"model": name, "version": str(version)}
    if args.detector is not None:
        fields["detector"] = args.detector
    if args.detector_version is not None:
        fields["detector_version"] = str(args.detector_version)
    process, url = start_service(args.model_repo, args.backend)
    try:
        detector = served(url, "detector", args.detector, args.detector_version)
        pose_model = served(url, "pose", name, version)
        with httpx.Client(base_url=url, timeout=120) as client:
            found = post(client, fields, image).persons
            if not found:
                raise SystemExit(f"the detector finds nobody in {args.image}")
            boxes = [{"box": person["box"]} for person in found]
            given = {"model": name, "version": str(version), "persons": json.dumps(boxes)}
            detected, posed = run_paired(client, fields, given, image, args.requests)
        images, persons, elapsed = run_concurrent(url, fields, image, args.clients, args.seconds)
    finally:
        process.terminate()
        process.wait(timeout=60)

    shares = [r.timing_ms["detection"] / r.timing_ms["total"] for r in detected]
    scores = ", ".join(f"{person['score']:.2f}" for person in found)
    print(f"machine: {machine()} (shared with other work: the figures are upper bounds)")
    print(f"service: {args.backend}; pose {pose_model}, detector {detector}; flip on")
    print(f"image: {args.image.name}, {len(found)} persons found (scores {scores})")
    header = f"{'':<34} {'p50 ms':>8} {'p90 ms':>8} {'persons/s':>10}"
    print(f"{header}  (one request at a time, {args.requests} of each, alternating)")
    print(row("detect + pose (no persons given)", detected))
    print(row("pose only (the same boxes given)", posed))
    detection_ms = statistics.median(r.timing_ms["detection"] for r in detected)
    inference_ms = statistics.median(r.timing_ms["detect_inference"] for r in detected)
    print(
        f"detector's share of the service time (timing_ms detection / total, median): "
        f"{100 * statistics.median(shares):.1f}% (detection {detection_ms:.1f} ms, of which inference "
        f"{inference_ms:.1f} ms)"
    )
    for label, runs in (("detect + pose", detected), ("pose only", posed)):
        print(f"{label}, median timing_ms: {steps(runs)}")
    print(
        f"{args.clients} clients for {elapsed:.1f} s: {images / elapsed:.2f} images/s, "
        f"{persons / elapsed:.2f} persons/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
