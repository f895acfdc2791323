"""Where the service's CPU goes: CPU milliseconds per request of each thread of `python -m service`.

    python benchmarks/service_cpu.py --model-repo REPO [--model NAME] [--version V]
        [--backend onnxruntime|openvino|...] [--protocol v1|v2] [--concurrency 8] [--seconds 20] [--pipeline]

Sends service_latency.py's request (an MPII 1280x720 JPEG, one person, flip; to /v1, or with --protocol v2
to the Open Inference Protocol's infer) from `--concurrency` clients
for `--seconds`, and reads each service thread's user + system time from /proc (Linux only) before and
after. The main thread is the event loop (HTTP, multipart, routing, keypoint decoding, JSON); the others are
unnamed in /proc: the runtime's inference threads (the two busiest on a 2-core machine, one of them the
batcher's inference thread) and the thread pool that decodes and crops. Also printed: the load clients' own
CPU per request, which on a one-machine benchmark competes with the service, and with --pipeline the CPU per
request of the in-process pipeline (what the request does, without the service) in each of its threading
arrangements. CPU per request moves far less than requests/s when other jobs share the cores.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from inprocess_pipeline import InProcessPipeline
from service_latency import (
    IMAGE,
    PERSON,
    add_model_arguments,
    chosen_version,
    oip_request_body,
    person_box,
    request_body,
    service_throughput,
    start_service,
)

from core.codec import FLIP_PAIR_CROPS
from runtime.options import RuntimeOptions


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """user + system CPU seconds of each thread of process `pid`."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended between listing and reading
            continue
        seconds[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--protocol", choices=["v1", "v2"], default="v1", help="/v1/pose, or OIP's infer")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--pipeline", action="store_true", help="then the in-process pipeline's CPU per request, to compare"
    )
    args = parser.parse_args()

    name, version, version_dir = chosen_version(args)
    process, url = start_service(args.model_repo, args.backend)
    try:
        request = (
            request_body(name, version)
            if args.protocol == "v1"
            else oip_request_body(name, version, person_box())
        )
        service_throughput(url, request, args.concurrency, 3.0)  # warm: threads exist, caches full
        before, clients_before = thread_cpu_seconds(process.pid), os.times()
        started = time.monotonic()
        rate = service_throughput(url, request, args.concurrency, args.seconds)
        requests = rate * (time.monotonic() - started)
        after, clients_after = thread_cpu_seconds(process.pid), os.times()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    used = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    print(f"{name}:{version} on {args.backend}: {rate:.2f} requests/s (1 person + flip each), concurrency "
          f"{args.concurrency}, {args.seconds:g} s, cpus {os.cpu_count()}")  # fmt: skip
    for tid, seconds in sorted(used.items(), key=lambda item: -item[1]):
        if seconds > 0:
            role = "event loop (main thread)" if tid == process.pid else f"thread {tid}"
            print(f"  {role:26s} {1000 * seconds / requests:7.2f} ms CPU per request")
    print(f"  {'all service threads':26s} {1000 * sum(used.values()) / requests:7.2f} ms CPU per request")
    client_seconds = sum(clients_after[:2]) - sum(clients_before[:2])
    print(f"  {'load clients':26s} {1000 * client_seconds / requests:7.2f} ms CPU per request")
    if args.pipeline:
        pipeline_cpu(args, version_dir)
    return 0


def pipeline_cpu(args: argparse.Namespace, version_dir: Path) -> None:
    """The in-process pipeline's CPU per request in each threading arrangement: what the service's total
    compares with. Batches hold as many persons as the service's default max_batch takes."""
    options = RuntimeOptions(model_repo=args.model_repo, backend=args.backend)
    pipeline = InProcessPipeline.load(options, args.backend, version_dir, IMAGE.read_bytes(), PERSON)
    batch = options.batching.max_batch // FLIP_PAIR_CROPS
    print(f"in-process pipeline (benchmarks/inprocess_pipeline.py), batches of up to {batch} persons:")
    try:
        for label, measure in pipeline.arrangements(batch).items():
            cpu, wall = time.process_time(), time.perf_counter()
            rate = measure(args.seconds / 2)
            per_request = (time.process_time() - cpu) / (rate * (time.perf_counter() - wall))
            print(f"  {label:26s} {1000 * per_request:7.2f} ms CPU per request ({rate:.2f} requests/s)")
    finally:
        pipeline.backend.close()


if __name__ == "__main__":
    sys.exit(main())
