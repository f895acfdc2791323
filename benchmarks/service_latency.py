"""Service overhead against what a request does in process, and against the bare backend, in paired rounds.

    python benchmarks/service_latency.py --model-repo REPO [--model NAME] [--version V]
        [--backend onnxruntime|openvino|...] [--protocol v1|v2] [--requests 20] [--seconds 10] [--rounds 5]

The request is an MPII image (1280x720 JPEG) with one person given by centre and scale. Three sides:

- the in-process pipeline (benchmarks/inprocess_pipeline.py): what the service does for that request
  (decode, crop and flip copy, inference, keypoint decoding) with the runtime's own functions, no HTTP;
  for throughput, the fastest of its threading arrangements (found once, before the rounds);
- the bare backend: inference alone on the request's two crops, at the batch size (persons per call) at
  which it is fastest;
- the real service (`python -m service`, same backend and settings) over HTTP: /v1/pose (multipart), or
  with --protocol v2 the Open Inference Protocol's infer with binary tensors, as tritonclient sends it.

Each round measures, back to back, the p50 of `--requests` sequential requests on each side, then each
side's throughput (`--concurrency` clients for the service, `--seconds` each). A round's ratios compare
figures taken seconds apart, so a machine whose speed drifts (a shared VM) moves all sides; the medians over
rounds are the result. The targets are against the in-process pipeline: latency ratio <= 1.10, throughput
ratio >= 0.95. The load clients run on the same cores as the service. --version picks the version
(default: the newest).
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

from inprocess_pipeline import InProcessPipeline  # noqa: E402

from core.geometry import DEFAULT_BOX_PADDING, MPII_SCALE_UNIT  # noqa: E402
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
    repo: Path, backend: str | None, env: dict[str, str] | None = None, tree: Path = REPO_ROOT
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m service` of the checkout `tree` on a free port, with extra HGPOSE_* settings in `env`
    (backend None: the service's default); returns once ready."""
    port = free_port()
    backend_option = ["--backend", backend] if backend else []
    python_path = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))  # `tree` first
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port), "--model-repo", str(Path(repo).resolve()),
         *backend_option, "--log-level", "warning"],
        cwd=tree, env={**os.environ, "PYTHONPATH": python_path, **(env or {})},
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


@dataclass(frozen=True)
class ServiceRequest:
    """One request, encoded once so the clients spend as little CPU as possible."""

    path: str
    body: bytes
    headers: dict[str, str]


def request_body(model: str, version: int | None = None) -> ServiceRequest:
    """A /v1/pose multipart request; no version: the model's default."""
    fields = {"persons": json.dumps([PERSON]), "model": model}
    if version is not None:
        fields["version"] = str(version)
    request = httpx.Request(
        "POST", "http://x/v1/pose", files={"image": ("p.jpg", IMAGE.read_bytes(), "image/jpeg")}, data=fields
    )
    return ServiceRequest("/v1/pose", request.read(), {"content-type": request.headers["content-type"]})


def oip_request_body(model: str, version: int | None, box: list[float]) -> ServiceRequest:
    """The same request for the Open Inference Protocol's infer, in binary tensors as tritonclient sends
    them: IMAGE (BYTES) and BOXES (FP32) after the JSON header, outputs asked in binary."""
    image = IMAGE.read_bytes()
    image_raw = len(image).to_bytes(4, "little") + image
    boxes_raw = np.array([box], "<f4").tobytes()
    inputs = [("IMAGE", "BYTES", [1], len(image_raw)), ("BOXES", "FP32", [1, 4], len(boxes_raw))]
    header = json.dumps({
        "inputs": [
            {"name": name, "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": size}}
            for name, datatype, shape, size in inputs
        ],
        "parameters": {"binary_data_output": True},
    }).encode()  # fmt: skip
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version is not None else "") + "/infer"
    return ServiceRequest(
        path, header + image_raw + boxes_raw, {"inference-header-content-length": str(len(header))}
    )


def service_latency(url: str, request: ServiceRequest, count: int) -> list[float]:
    with httpx.Client(base_url=url, timeout=120) as client:

        def call() -> None:
            client.post(request.path, content=request.body, headers=request.headers).raise_for_status()

        for _ in range(3):
            call()
        return timed(call, count)


def service_throughput(url: str, request: ServiceRequest, clients: int, seconds: float) -> float:
    """Persons per second over `seconds` with `clients` concurrent callers."""
    completed = [0] * clients
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while time.monotonic() < stop:
                client.post(request.path, content=request.body, headers=request.headers).raise_for_status()
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
    pipeline_p50_s: float
    raw_p50_s: float
    service_p50_s: float
    pipeline_rate: float
    raw_rate: float
    service_rate: float

    @property
    def latency_ratio(self) -> float:
        return self.service_p50_s / self.pipeline_p50_s

    @property
    def throughput_ratio(self) -> float:
        return self.service_rate / self.pipeline_rate

    @property
    def bare_latency_ratio(self) -> float:
        return self.service_p50_s / self.raw_p50_s

    @property
    def bare_throughput_ratio(self) -> float:
        return self.service_rate / self.raw_rate


def summary(label: str, ratios: list[float], target: str = "") -> str:
    return (
        f"{label}, median of {len(ratios)} rounds = {statistics.median(ratios):.3f} "
        f"[{min(ratios):.3f}..{max(ratios):.3f}]" + (f"  (target {target})" if target else "")
    )


def person_box() -> list[float]:
    """The box whose crop is the MPII person's (centre and scale): what /v2 sends in BOXES."""
    side = MPII_SCALE_UNIT * PERSON["scale"] / DEFAULT_BOX_PADDING  # box_to_center_scale, inverted
    cx, cy = PERSON["center"]
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--protocol", choices=["v1", "v2"], default="v1", help="the service's API")
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
          f"protocol {args.protocol}  cpus {os.cpu_count()}")  # fmt: skip

    raw = RawBackend.load(options, version_dir)
    print(f"devices: {', '.join(raw.backend.devices)}")
    rates = {persons: raw.throughput(persons, args.seconds / 2) for persons in BATCH_SIZES}
    best_batch = max(rates, key=rates.__getitem__)
    print("bare backend, persons/s by persons per call (2 crops each): "
          + ", ".join(f"{persons}: {rate:.2f}" for persons, rate in rates.items()))  # fmt: skip
    pipeline = InProcessPipeline.load(options, args.backend, version_dir, IMAGE.read_bytes(), PERSON)
    arrangement, arrangement_rates = pipeline.best_throughput(best_batch, args.seconds / 2)
    print("in-process pipeline, requests/s by threading: "
          + ", ".join(f"{label}: {rate:.2f}" for label, rate in arrangement_rates.items())
          + f"; the rounds use {arrangement}")  # fmt: skip
    measure_pipeline = pipeline.arrangements(best_batch)[arrangement]

    process, url = start_service(args.model_repo, args.backend)
    rounds: list[Round] = []
    try:
        request = (
            request_body(name, version)
            if args.protocol == "v1"
            else oip_request_body(name, version, person_box())
        )
        service_latency(url, request, 3)
        for index in range(args.rounds):
            pipeline_p50 = statistics.median(pipeline.latency(args.requests))
            raw_p50 = statistics.median(raw.latency(args.requests))
            service_p50 = statistics.median(service_latency(url, request, args.requests))
            pipeline_rate = measure_pipeline(args.seconds)
            raw_rate = raw.throughput(best_batch, args.seconds)
            service_rate = service_throughput(url, request, args.concurrency, args.seconds)
            rounds.append(Round(pipeline_p50, raw_p50, service_p50, pipeline_rate, raw_rate, service_rate))
            print(f"round {index + 1}: p50 pipeline {pipeline_p50 * 1000:.1f} ms, "
                  f"bare {raw_p50 * 1000:.1f} ms, service {service_p50 * 1000:.1f} ms "
                  f"(ratio {rounds[-1].latency_ratio:.3f}); persons/s pipeline {pipeline_rate:.2f} "
                  f"({arrangement}), bare {raw_rate:.2f} (batch of {best_batch}), service "
                  f"{service_rate:.2f} at concurrency {args.concurrency} "
                  f"(ratio {rounds[-1].throughput_ratio:.3f})")  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        raw.backend.close()
        pipeline.backend.close()

    print(
        summary("latency ratio    (service p50 / pipeline p50)", [r.latency_ratio for r in rounds], "<= 1.10")
    )
    print(
        summary(
            "throughput ratio (service / pipeline)        ", [r.throughput_ratio for r in rounds], ">= 0.95"
        )
    )
    print(summary("latency ratio    (service p50 / bare p50)    ", [r.bare_latency_ratio for r in rounds]))
    print(summary("throughput ratio (service / bare)            ", [r.bare_throughput_ratio for r in rounds]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
