"""Service overhead against the bare runtime, in paired rounds on one machine.

    python benchmarks/service_latency.py --model-repo REPO [--model NAME] [--version V]
        [--backend onnxruntime|openvino|...] [--requests 20] [--seconds 10] [--rounds 5]

The request is an MPII image (1280x720 JPEG) with one person given by centre and scale; the bare backend
runs the crops the service will run for it (the person's crop + flip copy), with the backend object alone.
First the batch size (persons per call) at which the bare backend is fastest is found. Then each round
measures, back to back: bare p50 of one request's crops and the real service's p50 at concurrency 1
(`python -m service`, same backend and settings, `--requests` each), then bare throughput at the best batch
size and the service's throughput with `--concurrency` clients (`--seconds` each). A round's ratios compare
figures taken seconds apart, so a machine whose speed drifts (a shared VM) moves both sides; the medians
over rounds are the result: latency ratio (target <= 1.10) and throughput ratio (>= 0.95). The load
clients run on the same cores as the service. --version picks the version (default: the newest).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from core.model_repo import read_metadata  # noqa: E402
from core.mpii import MPII_SAMPLE_DIR  # noqa: E402
from runtime.backends import BACKENDS, Backend, create_backend  # noqa: E402
from runtime.options import RuntimeOptions  # noqa: E402
from runtime.pipeline.images import decode_image  # noqa: E402
from runtime.pipeline.regions import crop_person, person_groups, region_from_center  # noqa: E402
from runtime.repository.folders import version_folders  # noqa: E402

IMAGE = MPII_SAMPLE_DIR / "images" / "005808361.jpg"
PERSON = {"center": [966.0, 410.78], "scale": 5.898}  # MPII validation person 0
BATCH_SIZES = (1, 2, 4, 8)  # persons per batch; each person is 2 crops with flip


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def rate_over(function, persons_per_call: int, seconds: float) -> float:
    """Persons per second of calling `function` back to back for about `seconds`."""
    calls = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        function()
        calls += 1
    return calls * persons_per_call / (time.perf_counter() - started)


@dataclass
class RawBackend:
    """The version's backend alone, with one request's crops (a person + flip copy) ready to run."""

    backend: Backend
    group: np.ndarray

    @classmethod
    def load(cls, options: RuntimeOptions, version_dir: Path) -> "RawBackend":
        metadata = read_metadata(version_dir)
        backend = create_backend(options.backend, version_dir, options)
        image = decode_image(IMAGE.read_bytes(), options.max_image_pixels)
        region = region_from_center(tuple(PERSON["center"]), PERSON["scale"], image.width, image.height)
        crops = crop_person(image, region, metadata.input.height, metadata.input.pixel_scale)[None]
        raw = cls(backend, person_groups(crops, flip=True)[0])
        for _ in range(3):
            raw.backend.infer(raw.group)
        return raw

    def latency(self, count: int) -> list[float]:
        return timed(lambda: self.backend.infer(self.group), count)

    def throughput(self, persons: int, seconds: float) -> float:
        batch = np.concatenate([self.group] * persons)
        return rate_over(lambda: self.backend.infer(batch), persons, seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_service(
    repo: Path, backend: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m service` on a free port with extra HGPOSE_* settings in `env`; returns once ready."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port), "--model-repo", str(repo),
         "--backend", backend, "--log-level", "warning"],
        cwd=REPO_ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not become ready")


def request_body(model: str, version: int | None = None) -> tuple[bytes, dict[str, str]]:
    """One multipart body, encoded once so the clients spend as little CPU as possible; no version: the
    model's default."""
    fields = {"persons": json.dumps([PERSON]), "model": model}
    if version is not None:
        fields["version"] = str(version)
    request = httpx.Request(
        "POST", "http://x/v1/pose", files={"image": ("p.jpg", IMAGE.read_bytes(), "image/jpeg")}, data=fields
    )
    return request.read(), {"content-type": request.headers["content-type"]}


def service_latency(url: str, body: bytes, headers: dict[str, str], count: int) -> list[float]:
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(3):
            client.post("/v1/pose", content=body, headers=headers).raise_for_status()
        return timed(lambda: client.post("/v1/pose", content=body, headers=headers).raise_for_status(), count)


def service_throughput(url: str, body: bytes, headers: dict[str, str], clients: int, seconds: float) -> float:
    """Persons per second over `seconds` with `clients` concurrent callers."""
    completed = [0] * clients
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while time.monotonic() < stop:
                client.post("/v1/pose", content=body, headers=headers).raise_for_status()
                completed[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(completed) / (time.monotonic() - started)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that pick the repository, model version and backend a service benchmark runs."""
    parser.add_argument("--model-repo", type=Path, required=True)
    parser.add_argument("--model", help="model name (default: the first in the repository)")
    parser.add_argument("--version", type=int, help="model version (default: the newest)")
    parser.add_argument("--backend", default="onnxruntime", choices=list(BACKENDS))


def chosen_version(args: argparse.Namespace) -> tuple[str, int, Path]:
    """The model name, version and folder `add_model_arguments`' options pick; exits when there is none."""
    versions = [(name, version, path) for (name, version), path in version_folders(args.model_repo).items()]
    name = args.model or (versions[0][0] if versions else None)
    candidates = [v for v in versions if v[0] == name and args.version in (None, v[1])]
    if not candidates:
        raise SystemExit(f"no model {name or ''} version {args.version or ''} in {args.model_repo}")
    return max(candidates, key=lambda v: v[1])


@dataclass(frozen=True)
class Round:
    raw_p50_s: float
    service_p50_s: float
    raw_rate: float
    service_rate: float

    @property
    def latency_ratio(self) -> float:
        return self.service_p50_s / self.raw_p50_s

    @property
    def throughput_ratio(self) -> float:
        return self.service_rate / self.raw_rate


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--requests", type=int, default=20, help="sequential calls per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="each throughput phase of a round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    name, version, version_dir = chosen_version(args)
    options = RuntimeOptions(model_repo=args.model_repo, backend=args.backend)
    metadata = read_metadata(version_dir)
    print(f"model {name}:{version}  {metadata.precision}  input {metadata.input.height}px  "
          f"features {metadata.features}  nstack {metadata.output.nstack}  backend {args.backend}  "
          f"cpus {os.cpu_count()}")  # fmt: skip

    raw = RawBackend.load(options, version_dir)
    print(f"devices: {', '.join(raw.backend.devices)}")
    rates = {persons: raw.throughput(persons, args.seconds / 2) for persons in BATCH_SIZES}
    best_batch = max(rates, key=rates.__getitem__)
    print("bare backend, persons/s by persons per call (2 crops each): "
          + ", ".join(f"{persons}: {rate:.2f}" for persons, rate in rates.items()))  # fmt: skip

    process, url = start_service(args.model_repo, args.backend)
    rounds: list[Round] = []
    try:
        body, headers = request_body(name, version)
        service_latency(url, body, headers, 3)
        for index in range(args.rounds):
            raw_p50 = statistics.median(raw.latency(args.requests))
            service_p50 = statistics.median(service_latency(url, body, headers, args.requests))
            raw_rate = raw.throughput(best_batch, args.seconds)
            service_rate = service_throughput(url, body, headers, args.concurrency, args.seconds)
            rounds.append(Round(raw_p50, service_p50, raw_rate, service_rate))
            print(f"round {index + 1}: p50 bare {raw_p50 * 1000:.1f} ms, service {service_p50 * 1000:.1f} ms "
                  f"(ratio {rounds[-1].latency_ratio:.3f}); persons/s bare {raw_rate:.2f} (batch of "
                  f"{best_batch}), service {service_rate:.2f} at concurrency {args.concurrency} "
                  f"(ratio {rounds[-1].throughput_ratio:.3f})")  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        raw.backend.close()

    for label, ratios, target in (
        ("latency ratio    (service p50 / bare p50)", [r.latency_ratio for r in rounds], "<= 1.10"),
        ("throughput ratio (service / bare)        ", [r.throughput_ratio for r in rounds], ">= 0.95"),
    ):
        print(f"{label}, median of {len(rounds)} rounds = {statistics.median(ratios):.3f} "
              f"[{min(ratios):.3f}..{max(ratios):.3f}]  (target {target})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
