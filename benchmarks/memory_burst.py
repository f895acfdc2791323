"""Memory of the service under a burst of worst-case images, answered as JSON or drawn (render=png); the
targets: service/README.md.

    python benchmarks/memory_burst.py --model-repo REPO [--requests 8] [--kind png-1bit|jpeg-rgb] [--render]

Starts `python -m service` (onnxruntime), sends one small warm-up request, then `--requests` concurrent
requests, each an image of the largest allowed pixel count (`max_image_pixels`, square) with a whole-image
person box; with `--render` each asks for `?render=png`. The server's RSS (/proc/PID/status) is sampled
every 5 ms. Prints the RSS before the burst, its peak increase (target < 1.5 GB for JSON, < 0.5 GB for
render=png) and the RSS 3 s after the burst, as a ratio of the RSS before it (target <= 1.20).
"""

import argparse
import io
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_latency import REPO_ROOT, start_service

sys.path.insert(0, str(REPO_ROOT))
from runtime.options import RuntimeOptions

PEAK_TARGET_BYTES = {"json": 1.5e9, "png": 0.5e9}
SETTLED_TARGET_RATIO = 1.20


def worst_case_image(kind: str, pixels: int) -> tuple[bytes, int]:
    """The encoded image of side floor(sqrt(pixels)) and that side."""
    side = math.isqrt(pixels)
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    if kind == "png-1bit":  # the 4.9 KB file: stripes compress to almost nothing
        image = Image.fromarray((ramp[None, :] > 127).repeat(side, axis=0)).convert("1")
        fmt = "PNG"
    else:  # a smooth RGB picture, which JPEG keeps small
        grey = (ramp[None, :] + ramp[:, None]) / 2
        image = Image.fromarray(
            np.dstack([grey, ramp[None, :].repeat(side, 0), ramp[:, None].repeat(side, 1)]).astype(np.uint8)
        )
        fmt = "JPEG"
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue(), side


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def post(url: str, image: bytes, box: list[int], render: bool = False) -> int:
    files = {"image": ("worst", image)}
    data = {"persons": f'[{{"box": {box}}}]'}
    query = "?render=png" if render else ""
    return httpx.post(f"{url}/v1/pose{query}", files=files, data=data, timeout=600).status_code


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-repo", type=Path, default=REPO_ROOT / "model_repo")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--kind", choices=["png-1bit", "jpeg-rgb"], default="png-1bit")
    parser.add_argument("--render", action="store_true", help="ask for the drawn image (?render=png)")
    args = parser.parse_args()
    answer = "png" if args.render else "json"
    peak_target = PEAK_TARGET_BYTES[answer]

    image, side = worst_case_image(args.kind, RuntimeOptions().max_image_pixels)
    box = [0, 0, side, side]
    print(
        f"image: {args.kind} {side}x{side} ({side * side} pixels), {len(image)} bytes; whole-image box; "
        f"answer: {answer}"
    )
    process, url = start_service(args.model_repo, "onnxruntime")
    try:
        small, _ = worst_case_image(args.kind, 200 * 200)
        assert post(url, small, [0, 0, 200, 200], args.render) == 200
        time.sleep(1.0)
        before = rss_bytes(process.pid)
        peak = before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_bytes(process.pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.requests) as pool:
            statuses = list(pool.map(lambda _: post(url, image, box, args.render), range(args.requests)))
        elapsed = time.perf_counter() - started
        time.sleep(3.0)
        done.set()
        sampler.join()
        after = rss_bytes(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)

    increase = peak - before
    print(f"statuses: {sorted(statuses)} in {elapsed:.1f} s")
    print(f"RSS before the burst: {before / 2**20:.0f} MiB")
    print(f"peak RSS increase: {increase / 2**20:.0f} MiB (target < {peak_target / 2**20:.0f} MiB)")
    ratio = after / before
    print(f"RSS 3 s after: {after / 2**20:.0f} MiB = {ratio:.2f} x before (target <= {SETTLED_TARGET_RATIO})")
    ok = increase < peak_target and ratio <= SETTLED_TARGET_RATIO and set(statuses) == {200}
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
