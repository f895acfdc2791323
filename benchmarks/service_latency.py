"""Service overhead against the bare runtime, in one run on one machine (issue 4's benchmark).

    python benchmarks/service_latency.py --model-repo REPO [--model NAME] [--version V]
        [--backend onnxruntime|openvino|...] [--requests 40] [--seconds 30]

1. Raw backend: the same crops the service will run for the request (one person: crop + flip copy), timed
   with the backend object alone; then the best throughput over batch sizes (persons/s).
2. The real service (`python -m service`, same backend and settings) on this machine: p50 latency of
   sequential requests (concurrency 1), then throughput with 8 concurrent clients.
Prints service p50 / raw time (target <= 1.10) and service throughput / best raw throughput (>= 0.95).
The request is an MPII image (1280x720 JPEG) with one person given by centre and scale. --version picks
the version (default: the newest), e.g. an int8 one on --backend openvino.
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
from pathlib import Path

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from core.model_repo import read_metadata  # noqa: E402
from core.mpii import MPII_SAMPLE_DIR  # noqa: E402
from service.backends import BACKENDS, create_backend  # noqa: E402
from service.images import decode_image  # noqa: E402
from service.regions import crop_person, person_groups, region_from_center  # noqa: E402
from service.repository import find_versions  # noqa: E402
from service.settings import Settings  # noqa: E402

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


def raw_figures(
    settings: Settings, version_dir: Path, repeats: int
) -> tuple[float, dict[int, float], list[str]]:
    """Median seconds for one request's crops, persons/s per batch size, devices that ran them."""
    metadata = read_metadata(version_dir)
    backend = create_backend(settings.backend, version_dir, settings)
    image = decode_image(IMAGE.read_bytes(), settings.max_image_pixels)
    region = region_from_center(tuple(PERSON["center"]), PERSON["scale"], image.width, image.height)
    crops = crop_person(image, region, metadata.input.height, metadata.input.pixel_scale)[None]
    group = person_groups(crops, flip=True)[0]
    for _ in range(3):
        backend.infer(group)
    single = statistics.median(timed(lambda: backend.infer(group), repeats))
    throughput = {}
    for persons in BATCH_SIZES:
        batch = np.concatenate([group] * persons)
        seconds = statistics.median(timed(lambda b=batch: backend.infer(b), max(3, repeats // persons)))
        throughput[persons] = persons / seconds
    backend.close()
    return single, throughput, backend.devices


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-repo", type=Path, required=True)
    parser.add_argument("--model", help="model name (default: the first in the repository)")
    parser.add_argument("--version", type=int, help="model version (default: the newest)")
    parser.add_argument("--backend", default="onnxruntime", choices=list(BACKENDS))
    parser.add_argument("--requests", type=int, default=40, help="sequential requests at concurrency 1")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of the concurrent phase")
    args = parser.parse_args()

    versions = find_versions(args.model_repo)
    name = args.model or (versions[0][0] if versions else None)
    candidates = [v for v in versions if v[0] == name and args.version in (None, v[1])]
    if not candidates:
        raise SystemExit(f"no model {name or ''} version {args.version or ''} in {args.model_repo}")
    name, version, version_dir = max(candidates, key=lambda v: v[1])
    settings = Settings(model_repo=args.model_repo, backend=args.backend)
    metadata = read_metadata(version_dir)
    print(f"model {name}:{version}  {metadata.precision}  input {metadata.input.height}px  "
          f"features {metadata.features}  nstack {metadata.output.nstack}  backend {args.backend}  "
          f"cpus {os.cpu_count()}")  # fmt: skip

    raw_single, raw_throughput, devices = raw_figures(settings, version_dir, max(10, args.requests // 2))
    print(f"devices: {', '.join(devices)}")
    best_batch = max(raw_throughput, key=raw_throughput.get)
    print(f"raw backend, one request's crops (1 person + flip = 2 crops): median {raw_single * 1000:.1f} ms")
    for persons, rate in raw_throughput.items():
        print(f"raw backend, batch of {persons} person(s) = {2 * persons} crops: {rate:.2f} persons/s")

    process, url = start_service(args.model_repo, args.backend)
    try:
        body, headers = request_body(name, version)
        latencies = service_latency(url, body, headers, args.requests)
        p50 = statistics.median(latencies)
        p90 = float(np.percentile(latencies, 90))
        throughput = service_throughput(url, body, headers, args.concurrency, args.seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    latency_ratio = p50 / raw_single
    throughput_ratio = throughput / raw_throughput[best_batch]
    print(
        f"service, concurrency 1: p50 {p50 * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, {args.requests} requests"
    )
    print(f"service, concurrency {args.concurrency}: {throughput:.2f} persons/s over {args.seconds:g} s")
    print(f"latency ratio    (service p50 / raw)            = {latency_ratio:.3f}  (target <= 1.10)")
    print(
        f"throughput ratio (service / best raw, batch {best_batch}) = {throughput_ratio:.3f} (target >= 0.95)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
