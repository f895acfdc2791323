"""Crops per second on a CUDA GPU: the service against bare onnxruntime, fp32 and fp16, at 256 px.

    python benchmarks/gpu_service_throughput.py [--source model_repo/hourglass/6] [--input-size 256]
        [--seconds 20] [--clients 8] [--persons-per-request 16] [--max-batch 64] [--batches 16 32 64 128]

Made to run in one call on a GPU machine (after `pip install -e '.[serving,clients]'` and the gpu
extra, see service/README.md). From the source version's fp32 ONNX it writes a temporary repository with
the network at --input-size (the hourglass is fully convolutional, so only the input's declared size
changes; weights are irrelevant to speed) as version 1 (fp32) and version 2 (fp16, converted by
onnxruntime's float16 tool with float32 inputs and outputs). Then, for each precision:

1. bare onnxruntime on CUDA: crops/s for each batch size, numpy in and out (host-device copies included);
2. the service (`python -m service`, onnxruntime backend, HGPOSE_ORT_USE_CUDA=true, --max-batch), loaded
   by --clients processes, each sending requests of --persons-per-request persons (flip test: 2 crops
   each) on the 1280x720 MPII fixture image for --seconds.

Prints both, the ratio (goal >= 0.9) and the service's crops/s (goal >= 2,000). It stops with an error
when CUDA is not what actually runs (bare session or /v1/models devices), unless --allow-cpu, which
exists to smoke-test the script on a machine without a GPU.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import onnx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from service_latency import IMAGE, PERSON, start_service  # noqa: E402

from core.model_repo import (  # noqa: E402
    FP16,
    FP32,
    ONNX_FILE,
    InputSpec,
    describe_file,
    read_metadata,
    write_metadata,
)
from runtime.backends.onnxruntime import CPU_PROVIDER, CUDA_PROVIDER  # noqa: E402

MODEL_NAME = "hourglass"
VERSIONS = {FP32: 1, FP16: 2}
SERVICE_CROPS_GOAL = 2000.0
RATIO_GOAL = 0.9


def at_input_size(model: onnx.ModelProto, size: int) -> onnx.ModelProto:
    """The same graph declaring an NHWC input of size x size; stale inferred shapes are dropped."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value = size, size
    for dim in model.graph.output[0].type.tensor_type.shape.dim[1:]:
        dim.Clear()
    del model.graph.value_info[:]
    return model


def write_version(repo: Path, source: Path, model: onnx.ModelProto, precision: str, size: int) -> None:
    target = repo / MODEL_NAME / str(VERSIONS[precision])
    target.mkdir(parents=True)
    onnx.save(model, str(target / ONNX_FILE))
    metadata = read_metadata(source)
    heatmap = size // 4
    write_metadata(
        target,
        replace(
            metadata,
            name=MODEL_NAME,
            version=VERSIONS[precision],
            input=InputSpec(height=size, width=size),
            output=replace(metadata.output, heatmap_height=heatmap, heatmap_width=heatmap),
            files={ONNX_FILE: describe_file(target / ONNX_FILE)},
            precision=precision,
            source_version=None if precision == FP32 else VERSIONS[FP32],
        ),
    )


def build_repository(repo: Path, source: Path, size: int, precisions: list[str]) -> None:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    fp32 = at_input_size(onnx.load(str(source / ONNX_FILE)), size)
    for precision in precisions:
        model = fp32 if precision == FP32 else convert_float_to_float16(fp32, keep_io_types=True)
        write_version(repo, source, model, precision, size)


def bare_crops_per_s(
    model_path: Path, size: int, batches: list[int], seconds: float, allow_cpu: bool
) -> dict:
    import onnxruntime as ort

    ort.preload_dlls()
    session = ort.InferenceSession(str(model_path), providers=[CUDA_PROVIDER, CPU_PROVIDER])
    if CUDA_PROVIDER not in session.get_providers() and not allow_cpu:
        raise SystemExit(f"bare onnxruntime runs on {session.get_providers()}, not CUDA")
    name = session.get_inputs()[0].name
    rates = {}
    for batch in batches:
        crops = np.random.default_rng(batch).random((batch, size, size, 3), np.float32)
        for _ in range(3):
            session.run(None, {name: crops})
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / len(batches):
            session.run(None, {name: crops})
            runs += 1
        rates[batch] = runs * batch / (time.perf_counter() - started)
    return rates


def request_body(persons: int, version: int) -> tuple[bytes, dict[str, str]]:
    request = httpx.Request(
        "POST",
        "http://x/v1/pose",
        files={"image": ("p.jpg", IMAGE.read_bytes(), "image/jpeg")},
        data={"persons": json.dumps([PERSON] * persons), "model": MODEL_NAME, "version": str(version)},
    )
    return request.read(), {"content-type": request.headers["content-type"]}


def client_loop(url: str, body: bytes, headers: dict[str, str], seconds: float) -> int:
    """Requests completed by one client process in `seconds`."""
    done = 0
    stop = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < stop:
            client.post("/v1/pose", content=body, headers=headers).raise_for_status()
            done += 1
    return done


def service_crops_per_s(url: str, version: int, args: argparse.Namespace) -> float:
    body, headers = request_body(args.persons_per_request, version)
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(3):
            client.post("/v1/pose", content=body, headers=headers).raise_for_status()
    started = time.monotonic()
    with ProcessPoolExecutor(args.clients) as pool:
        futures = [pool.submit(client_loop, url, body, headers, args.seconds) for _ in range(args.clients)]
        requests = sum(f.result() for f in futures)
    return requests * args.persons_per_request * 2 / (time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=REPO_ROOT / "model_repo" / MODEL_NAME / "6")
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--precisions", nargs="+", choices=list(VERSIONS), default=list(VERSIONS))
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--clients", type=int, default=8, help="client processes")
    parser.add_argument("--persons-per-request", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=64, help="the service's HGPOSE_MAX_BATCH")
    parser.add_argument("--allow-cpu", action="store_true", help="smoke test without a GPU")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}, cpus {os.cpu_count()}")
    repo = Path(tempfile.mkdtemp(prefix="gpu_bench_repo_"))
    try:
        build_repository(repo, args.source, args.input_size, args.precisions)
        bare = {
            p: bare_crops_per_s(
                repo / MODEL_NAME / str(VERSIONS[p]) / ONNX_FILE,
                args.input_size,
                args.batches,
                args.seconds,
                args.allow_cpu,
            )
            for p in args.precisions
        }
        settings = {
            "HGPOSE_ORT_USE_CUDA": "true",
            "HGPOSE_MAX_BATCH": str(args.max_batch),
            "HGPOSE_MAX_PERSONS": str(args.persons_per_request),
            "HGPOSE_QUEUE_SIZE": str(max(1024, 4 * args.max_batch)),
        }
        process, url = start_service(repo, "onnxruntime", settings)
        try:
            listing = httpx.get(f"{url}/v1/models", timeout=30).json()["models"][0]["versions"]
            for version in listing:
                print(f"service version {version['version']} ({version['precision']}): {version['status']}, "
                      f"devices {version['devices']}, {version['reason'] or ''}")  # fmt: skip
                if version["status"] != "ready" or (
                    CUDA_PROVIDER not in version["devices"] and not args.allow_cpu
                ):
                    raise SystemExit("the service does not run this version on CUDA")
            service = {p: service_crops_per_s(url, VERSIONS[p], args) for p in args.precisions}
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    finally:
        shutil.rmtree(repo)

    print(
        f"{args.input_size} px, service: {args.clients} client processes x {args.persons_per_request} "
        f"persons/request (flip: 2 crops each), max batch {args.max_batch}, {args.seconds:g} s per phase"
    )
    for precision in args.precisions:
        rates = bare[precision]
        best = max(rates, key=rates.get)
        line = ", ".join(f"batch {b}: {r:.0f}" for b, r in rates.items())
        print(f"{precision} bare onnxruntime crops/s: {line}")
        ratio = service[precision] / rates[best]
        print(
            f"{precision} service {service[precision]:.0f} crops/s; ratio to bare (batch {best}) {ratio:.3f} "
            f"(goal >= {RATIO_GOAL}); goal >= {SERVICE_CROPS_GOAL:.0f} crops/s: "
            f"{'met' if service[precision] >= SERVICE_CROPS_GOAL else 'missed'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
