"""Our service against NVIDIA Triton serving the same pipeline, loaded over the Open Inference Protocol.

    python benchmarks/triton_peer.py --model-repo model_repo --version 6 --backend onnxruntime \\
        --ours-url 127.0.0.1:8010 [--ours-protocol v2|v1] [--transport http|grpc] \\
        [--concurrency 1 8 32] [--rounds 4] [--seconds 8] [--triton-venv .venv-triton] [--peer-instances 1]

The peer is Triton 2.51 (bundled by nvidia-pytriton) running benchmarks/triton_peer_model.py as a Python
backend model: the service's pipeline on core/ (decode, crop, flip copy, the same runtime with the same
options, core's codec), with Triton's dynamic batching at the service's limits (the runtime's default
max_batch crops per inference, no queue delay): run the service with its default settings. This script builds
its model repository and server in a temporary folder from the peer's own environment (`--triton-venv`, made
by benchmarks/triton_peer_venv.sh) and starts it. Our service runs apart (`python -m service`, same backend
and version) at `--ours-url`: its Open Inference Protocol endpoint (`v2`: model `hourglass`, IMAGE BYTES [1],
BOXES FP32 [1, 4], FLIP BOOL [1]; HOST:PORT of its HTTP or gRPC port), or its REST route (`v1`: POST /v1/pose,
http://HOST:PORT) with the same image and box.

The request: an MPII photograph (1280x720 JPEG) with one person box, flip on. Each round runs every
concurrency (1, 8, 32 clients, back to back, for `--seconds` each) on both servers, one right after the
other, the server that goes first alternating by round, because this kind of shared machine drifts by
10-20 % between minutes; the figures are medians over rounds, and the ratios (ours / peer) medians of the
rounds' ratios with their range. Throughput counts requests (= persons) finished within the window. The
load clients run on the same cores as both servers.
"""

import argparse
import importlib.metadata
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from service_latency import add_model_arguments, chosen_version, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from core.mpii import MPII_SAMPLE_DIR  # noqa: E402
from runtime.backends import backend_spec  # noqa: E402
from runtime.options import RuntimeOptions  # noqa: E402
from runtime.pipeline.regions import CROP_WINDOW_PIXELS, crops_per_person  # noqa: E402

IMAGE = MPII_SAMPLE_DIR / "images" / "005808361.jpg"
BOXES = [[780.0, 60.0, 1180.0, 720.0]]
FLIP = True
PEER_MODEL_SOURCE = Path(__file__).with_name("triton_peer_model.py")
SETUP_COMMAND = 'benchmarks/triton_peer_venv.sh "$(pyenv root)/versions/3.12.1/bin/python" {venv}'
# What the report names of each side's environment.
RUNTIME_PACKAGES = ("onnxruntime", "openvino", "numpy", "pillow", "opencv-python-headless")
SERVER_START_S = 300.0


@dataclass(frozen=True)
class TritonEnvironment:
    """The peer's virtual environment: site-packages (with pytriton's Triton), its Python's libpython."""

    venv: Path
    site_packages: Path
    python_lib: Path
    python_version: str

    @classmethod
    def find(cls, venv: Path) -> "TritonEnvironment":
        config = venv / "pyvenv.cfg"
        if not config.is_file():
            raise SystemExit(
                f"no Triton environment at {venv}: make it with\n    {SETUP_COMMAND.format(venv=venv)}"
            )
        values = dict(line.split(" = ", 1) for line in config.read_text().splitlines() if " = " in line)
        version = ".".join(values["version"].split(".")[:2])
        site_packages = venv / "lib" / f"python{version}" / "site-packages"
        if not (site_packages / "pytriton" / "tritonserver").is_dir():
            raise SystemExit(f"{venv} has no nvidia-pytriton: {SETUP_COMMAND.format(venv=venv)}")
        return cls(venv, site_packages, Path(values["home"]).parent / "lib", version)

    def versions(self) -> dict[str, str]:
        found = importlib.metadata.distributions(path=[str(self.site_packages)])
        return {d.metadata["Name"].lower(): d.version for d in found}

    def install_server(self, folder: Path) -> Path:
        """Triton's binary and Python backend, with the stub for this environment's Python, in `folder`."""
        dist = self.site_packages / "pytriton" / "tritonserver"
        shutil.copytree(dist / "bin", folder / "bin")
        shutil.copytree(dist / "backends", folder / "backends")
        stub = dist / "python_backend_stubs" / self.python_version / "triton_python_backend_stub"
        shutil.copy(stub, folder / "backends" / "python")
        return folder

    def server_env(self) -> dict[str, str]:
        libraries = [str(self.python_lib), str(self.site_packages / "nvidia_pytriton.libs")]
        if os.environ.get("LD_LIBRARY_PATH"):
            libraries.append(os.environ["LD_LIBRARY_PATH"])
        return {
            **os.environ,
            "LD_LIBRARY_PATH": ":".join(libraries),
            # The stub's embedded Python finds the environment through the `python` first on PATH.
            "PATH": f"{self.venv / 'bin'}:{os.environ['PATH']}",
            "PYTHONPATH": str(REPO_ROOT),
        }


@dataclass(frozen=True)
class PeerModel:
    """The peer's Triton model: name, version, batching and the pipeline's options (the runtime's)."""

    name: str
    version: int
    max_batch_requests: int
    instances: int
    parameters: dict[str, str]

    def config(self) -> str:
        parameters = "\n".join(
            f'  {{ key: "{key}" value: {{ string_value: "{value}" }} }},'
            for key, value in self.parameters.items()
        ).rstrip(",")
        return f"""name: "{self.name}"
backend: "python"
max_batch_size: {self.max_batch_requests}
dynamic_batching {{ max_queue_delay_microseconds: 0 }}
instance_group [ {{ count: {self.instances} kind: KIND_CPU }} ]
input [
  {{ name: "IMAGE" data_type: TYPE_STRING dims: [ 1 ] }},
  {{ name: "BOXES" data_type: TYPE_FP32 dims: [ -1, 4 ] optional: true }},
  {{ name: "FLIP" data_type: TYPE_BOOL dims: [ 1 ] optional: true }}
]
output [
  {{ name: "KEYPOINTS" data_type: TYPE_FP32 dims: [ -1, 16, 3 ] }},
  {{ name: "PERSON_BOXES" data_type: TYPE_FP32 dims: [ -1, 4 ] }}
]
parameters [
{parameters}
]
"""

    def write_repository(self, folder: Path) -> Path:
        version_dir = folder / self.name / str(self.version)
        version_dir.mkdir(parents=True)
        shutil.copy(PEER_MODEL_SOURCE, version_dir / "model.py")
        (folder / self.name / "config.pbtxt").write_text(self.config())
        return folder


def peer_model(
    name: str, version: int, version_dir: Path, options: RuntimeOptions, instances: int
) -> PeerModel:
    """Triton batches requests: as many as fill one inference of the service's max_batch crops."""
    crops_per_request = crops_per_person(FLIP) * len(BOXES)
    onnxruntime, openvino = options.backends.onnxruntime, options.backends.openvino
    max_batch = options.batching.max_batch
    parameters = {
        "version_dir": str(version_dir.resolve()),
        "model_file": backend_spec(options.backend).model_file(version_dir),
        "runtime": options.backend,
        "max_batch": str(max_batch),
        "crop_window_pixels": str(CROP_WINDOW_PIXELS),
        "max_image_pixels": str(options.max_image_pixels),
        "decode_threads": str(options.max_concurrent_decodes),
        "keypoint_threads": str(options.keypoint_threads),
        "ort_intra_op_threads": str(onnxruntime.intra_op_threads),
        "ort_inter_op_threads": str(onnxruntime.inter_op_threads),
        "openvino_device": openvino.device,
        "openvino_threads": str(openvino.threads),
        "openvino_performance_hint": openvino.performance_hint,
        "openvino_inference_precision": openvino.inference_precision,
    }
    return PeerModel(name, version, max(1, max_batch // crops_per_request), instances, parameters)


@contextmanager
def triton_server(environment: TritonEnvironment, model: PeerModel) -> Iterator[tuple[str, str]]:
    """Triton serving `model` on free ports until the block ends; yields its HTTP and gRPC addresses."""
    with tempfile.TemporaryDirectory(prefix="triton-peer-") as workspace:
        folder = Path(workspace)
        server = environment.install_server(folder / "tritonserver")
        repository = model.write_repository(folder / "models")
        http, grpc = free_port(), free_port()
        log_path = folder / "tritonserver.log"
        command = [
            str(server / "bin" / "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={server / 'backends'}",
            f"--http-port={http}",
            f"--grpc-port={grpc}",
            "--allow-metrics=false",
            "--exit-timeout-secs=10",
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=environment.server_env(), stdout=log, stderr=log)
        try:
            wait_ready(f"http://127.0.0.1:{http}", process, log_path)
            yield f"127.0.0.1:{http}", f"127.0.0.1:{grpc}"
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    tail = log_path.read_text(errors="replace")[-4000:]
    raise SystemExit(f"Triton did not become ready; the end of its log:\n{tail}")


@dataclass(frozen=True)
class Client:
    """One load client's connection: `call` sends the request and returns keypoints (persons, 16, 3)."""

    call: Callable[[], np.ndarray]
    close: Callable[[], None]


Connect = Callable[[], Client]


def address(url: str) -> str:
    return url.removeprefix("http://").removeprefix("https://").rstrip("/")


def oip_client(url: str, transport: str, model: str, version: int, triton_batch_dim: bool) -> Connect:
    """Open Inference Protocol over tritonclient (binary tensor data, as it sends by default).

    Triton's batching model takes a leading batch dimension (IMAGE [1, 1], BOXES [1, P, 4], FLIP [1, 1],
    KEYPOINTS [1, P, 16, 3]); the service's model has none.
    """
    if transport == "http":
        import tritonclient.http as protocol
    else:
        import tritonclient.grpc as protocol
    lead = (1,) if triton_batch_dim else ()
    arrays = {
        "IMAGE": (np.array([IMAGE.read_bytes()], dtype=np.object_).reshape(*lead, 1), "BYTES"),
        "BOXES": (np.array(BOXES, np.float32).reshape(*lead, len(BOXES), 4), "FP32"),
        "FLIP": (np.array([FLIP]).reshape(*lead, 1), "BOOL"),
    }

    def connect() -> Client:
        client = protocol.InferenceServerClient(address(url))
        inputs = []
        for name, (array, datatype) in arrays.items():
            tensor = protocol.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        outputs = [protocol.InferRequestedOutput(name) for name in ("KEYPOINTS", "PERSON_BOXES")]

        def call() -> np.ndarray:
            result = client.infer(model, inputs, model_version=str(version), outputs=outputs)
            return np.asarray(result.as_numpy("KEYPOINTS")).reshape(-1, 16, 3)

        return Client(call, client.close)

    return connect


def rest_v1_client(url: str, model: str, version: int) -> Connect:
    """The service's REST route with the same image, box and flip (multipart, encoded once)."""
    fields = {"persons": json.dumps([{"box": box} for box in BOXES]), "model": model}
    fields |= {"version": str(version), "flip": str(FLIP).lower()}
    request = httpx.Request(
        "POST",
        "http://x/v1/pose",
        files={"image": (IMAGE.name, IMAGE.read_bytes(), "image/jpeg")},
        data=fields,
    )
    body, headers = request.read(), {"content-type": request.headers["content-type"]}

    def connect() -> Client:
        client = httpx.Client(base_url=url if "://" in url else f"http://{url}", timeout=120)

        def call() -> np.ndarray:
            response = client.post("/v1/pose", content=body, headers=headers)
            response.raise_for_status()
            persons = response.json()["persons"]
            return np.array(
                [[[k["x"], k["y"], k["score"]] for k in p["keypoints"]] for p in persons], np.float32
            )

        return Client(call, client.close)

    return connect


@dataclass(frozen=True)
class Phase:
    """One server at one concurrency: the (start, end) perf_counter times of the requests, and the window."""

    requests: list[tuple[float, float]]
    window: tuple[float, float]

    @property
    def rate(self) -> float:
        """Requests finished within the window per second."""
        opened, closed = self.window
        return sum(opened <= end <= closed for _, end in self.requests) / (closed - opened)

    def latency_ms(self, percentile: float) -> float:
        """Of the requests started within the window."""
        opened, closed = self.window
        latencies = [end - start for start, end in self.requests if opened <= start < closed]
        return float(np.percentile(latencies, percentile)) * 1000

    @property
    def p50_ms(self) -> float:
        return self.latency_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.latency_ms(99)


def run_phase(connect: Connect, concurrency: int, seconds: float) -> Phase:
    """`concurrency` clients sending back to back. The window opens once every client has had its first
    answer (the queue is then at its steady length) and lasts `seconds`; the requests started within it
    are awaited."""
    clients = [connect() for _ in range(concurrency)]
    requests: list[list[tuple[float, float]]] = [[] for _ in clients]
    failures: list[BaseException] = []
    first_answers = threading.Semaphore(0)
    closes_at = [math.inf]

    def load(index: int) -> None:
        call, done = clients[index].call, requests[index]
        try:
            call()
            first_answers.release()
            while (started := time.perf_counter()) < closes_at[0]:
                call()
                done.append((started, time.perf_counter()))
        except Exception as error:  # any failed request spoils the phase: reported after the join
            failures.append(error)
            closes_at[0] = -math.inf
            first_answers.release()

    threads = [threading.Thread(target=load, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for _ in range(concurrency):
        first_answers.acquire()
    opened = time.perf_counter()
    if not failures:
        closes_at[0] = opened + seconds
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    if failures:
        raise SystemExit(f"a request failed: {failures[0]!r}")
    return Phase([r for per_client in requests for r in per_client], (opened, opened + seconds))


@dataclass
class Pairs:
    """Per concurrency, the rounds' phases of both servers."""

    ours: dict[int, list[Phase]] = field(default_factory=dict)
    peer: dict[int, list[Phase]] = field(default_factory=dict)


def summary(ours: list[Phase], peer: list[Phase], figure: Callable[[Phase], float]) -> str:
    ratios = [figure(o) / figure(p) for o, p in zip(ours, peer, strict=True)]
    mine, theirs = statistics.median(map(figure, ours)), statistics.median(map(figure, peer))
    return (
        f"{mine:8.1f} {theirs:8.1f}  {statistics.median(ratios):5.2f} [{min(ratios):.2f}..{max(ratios):.2f}]"
    )


def print_table(pairs: Pairs) -> None:
    print(f"\n{'':11} {'requests/s':^34} {'p50 ms':^34} {'p99 ms':^34}")
    print(
        f"{'concurrency':11} "
        + " ".join(f"{'ours':>8} {'peer':>8}  {'ours/peer [range]':17}" for _ in range(3))
    )
    for concurrency in pairs.ours:
        ours, peer = pairs.ours[concurrency], pairs.peer[concurrency]
        figures = [
            summary(ours, peer, lambda phase: phase.rate),
            summary(ours, peer, lambda phase: phase.p50_ms),
            summary(ours, peer, lambda phase: phase.p99_ms),
        ]
        print(f"{concurrency:11d} " + " ".join(figures))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def describe(
    args: argparse.Namespace, environment: TritonEnvironment, peer_url: str, model: PeerModel
) -> None:
    ours_versions = {name: importlib.metadata.version(name) for name in RUNTIME_PACKAGES}
    peer_versions = environment.versions()
    server = httpx.get(f"http://{peer_url}/v2", timeout=10).json()
    transport = args.transport if args.ours_protocol == "v2" else "REST"
    load = os.getloadavg()[0]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load average {load:.2f} at the start")
    packages = ", ".join(f"{k} {v}" for k, v in ours_versions.items())
    print(f"ours: {args.ours_url} over {args.ours_protocol} ({transport}); this script's environment: "
          f"Python {platform.python_version()}, {packages}")  # fmt: skip
    print(f"peer: {server['name']} {server['version']} Python backend, {model.instances} instance(s), "
          f"batches of up to {model.max_batch_requests} requests, Python {environment.python_version}, "
          + ", ".join(f"{k} {peer_versions.get(k, '-')}" for k in RUNTIME_PACKAGES))  # fmt: skip
    print(f"load: tritonclient {importlib.metadata.version('tritonclient')} over {args.transport}; request: "
          f"{IMAGE.name} (1280x720 JPEG), boxes {BOXES}, flip {FLIP}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--ours-url", required=True, help="our service: HOST:PORT (v2) or http://HOST:PORT (v1)"
    )
    parser.add_argument("--ours-protocol", choices=["v2", "v1"], default="v2")
    parser.add_argument(
        "--transport", choices=["http", "grpc"], default="http", help="Open Inference Protocol's"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="each server's window per concurrency")
    parser.add_argument("--triton-venv", type=Path, default=REPO_ROOT / ".venv-triton")
    parser.add_argument("--peer-instances", type=int, default=1, help="Triton model instances (processes)")
    args = parser.parse_args()

    name, version, version_dir = chosen_version(args)
    options = RuntimeOptions(model_repo=args.model_repo, backend=args.backend)
    environment = TritonEnvironment.find(args.triton_venv)
    model = peer_model(name, version, version_dir, options, args.peer_instances)
    if args.ours_protocol == "v2":
        ours = oip_client(args.ours_url, args.transport, name, version, triton_batch_dim=False)
    else:
        ours = rest_v1_client(args.ours_url, name, version)

    with triton_server(environment, model) as (peer_http, peer_grpc):
        peer_url = peer_http if args.transport == "http" else peer_grpc
        peer = oip_client(peer_url, args.transport, name, version, triton_batch_dim=True)
        describe(args, environment, peer_http, model)
        checks = {label: connect() for label, connect in (("ours", ours), ("peer", peer))}
        answers = {label: client.call() for label, client in checks.items()}
        for client in checks.values():
            client.close()
        difference = np.abs(answers["ours"] - answers["peer"])
        print(f"model {name}:{version} on {args.backend}; the same answer? largest difference "
              f"{difference[..., :2].max():.3g} px, score {difference[..., 2].max():.3g}")  # fmt: skip
        for connect in (ours, peer):
            run_phase(connect, max(args.concurrency), 2.0)  # warm-up: connections, runtime's first batches
        pairs = Pairs()
        for index in range(args.rounds):
            order = [("ours", ours), ("peer", peer)]
            for concurrency in args.concurrency:
                for label, connect in order if index % 2 == 0 else order[::-1]:
                    phase = run_phase(connect, concurrency, args.seconds)
                    getattr(pairs, label).setdefault(concurrency, []).append(phase)
                    print(f"round {index + 1} concurrency {concurrency:2d} {label}: {phase.rate:6.2f} "
                          f"requests/s, p50 {phase.p50_ms:7.1f} ms, p99 {phase.p99_ms:7.1f} ms")  # fmt: skip
    print_table(pairs)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} at the end; medians of {args.rounds} rounds, ratios ours / peer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
