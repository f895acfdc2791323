"""Frames per second through POST /v1/pose/video against the same frames as separate /v1/pose requests, and
the live stream's per-frame latency at a steady input rate.

    python benchmarks/video_throughput.py --model-repo model_repo [--model hourglass] [--version 6]
        [--backend onnxruntime] [--frames 48] [--size 360x640] [--concurrency 1,2,4,8] [--stream-fps 10]
        [--stream-seconds 10]

The clip is MPII validation person 0 filmed by a panning, zooming virtual camera (tests/video_clips.py),
as H.264 MP4. The service (`python -m service` on the repository, pose models only: no detector) gets:

1. the video, with the person's box on the first frame (the tracker follows them by their keypoints,
   `min_pose_score` 0 so that a weak pose is not dropped): frames/s = frames / the request's wall time,
   upload, decoding, tracking and smoothing included;
2. each frame as a separate /v1/pose request (JPEG, quality 95, encoded before timing) with the boxes the
   video's lines say were estimated in that frame, from 1, 2, 4, 8 concurrent clients: the best
   frames/s;
3. WS /v1/pose/stream on a service with the person detector too (as a camera is served; with the shipped
   model's weak scores the detector runs on nearly every frame): the frames as JPEG at `--stream-fps` for
   `--stream-seconds` (the clip forwards, backwards, forwards...):
   the round trip from sending a frame to its answer (p50, p90), the service's own latency, the share
   of frames dropped.

The clients run on the same machine. Every figure is printed with the machine it was taken on.
"""

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from websockets.sync.client import connect

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from service_latency import add_model_arguments, chosen_version, start_service  # noqa: E402
from video_clips import encode_clip, mpii_camera_clip  # noqa: E402

from runtime.repository.folders import version_folders  # noqa: E402
from runtime.video.decode import VideoReader  # noqa: E402

JPEG_QUALITY = 95


def machine() -> str:
    """The CPU model, its cores and how busy it was (on a shared machine the figures are upper bounds)."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{names[0] if names else platform.machine()}, {os.cpu_count()} cores, load average {load}"


def jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def video_request(url: str, video: bytes, fields: dict[str, str]) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    response = httpx.post(
        f"{url}/v1/pose/video", files={"video": ("clip.mp4", video)}, data=fields, timeout=3600
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    lines = [json.loads(line) for line in response.text.splitlines()]
    if not lines[-1].get("done"):
        raise SystemExit(f"the video failed: {lines[-1]}")
    return elapsed, lines


def image_requests(
    url: str, frames: list[bytes], boxes: list[list[list[float]]], fields: dict, clients: int
) -> float:
    """Frames per second of sending every frame with its boxes from `clients` concurrent callers."""
    bodies = []
    for data, frame_boxes in zip(frames, boxes, strict=True):
        if not frame_boxes:
            continue
        persons = json.dumps([{"box": box} for box in frame_boxes])
        request = httpx.Request(
            "POST",
            "http://x/v1/pose",
            files={"image": ("f.jpg", data, "image/jpeg")},
            data={**fields, "persons": persons},
        )
        bodies.append((request.read(), {"content-type": request.headers["content-type"]}))
    local = threading.local()

    def send(body: tuple[bytes, dict[str, str]]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=600)
        local.client.post("/v1/pose", content=body[0], headers=body[1]).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, bodies))
    return len(bodies) / (time.perf_counter() - started)


def back_and_forth(index: int, count: int) -> int:
    """The clip played forwards, then backwards, and so on: the person never jumps."""
    position = index % (2 * count - 2) if count > 1 else 0
    return position if position < count else 2 * count - 2 - position


def stream_latency(url: str, frames: list[bytes], fps: float, seconds: float, query: str) -> dict[str, float]:
    """Send frames at `fps` over the WebSocket and time each answer from its frame's send."""
    sent_at: dict[int, float] = {}
    answers: list[dict] = []
    ws_url = url.replace("http://", "ws://") + "/v1/pose/stream?" + query
    total = int(fps * seconds)
    with connect(ws_url, max_size=None, open_timeout=60) as stream:

        def send() -> None:
            start = time.perf_counter()
            for index in range(total):
                time.sleep(max(0.0, start + index / fps - time.perf_counter()))
                sent_at[index] = time.perf_counter()
                stream.send(frames[back_and_forth(index, len(frames))])

        sender = threading.Thread(target=send)
        sender.start()
        while True:
            answer = json.loads(stream.recv(timeout=120))
            answer["round_trip_s"] = time.perf_counter() - sent_at[answer["frame"]]
            answers.append(answer)
            if answer["frame"] == total - 1:
                break
        sender.join()
    round_trips = [a["round_trip_s"] * 1000 for a in answers]
    return {
        "sent": total,
        "answered": len(answers),
        "dropped": answers[-1]["dropped"],
        "round_trip_p50_ms": statistics.median(round_trips),
        "round_trip_p90_ms": float(np.percentile(round_trips, 90)),
        "service_p50_ms": statistics.median(a["latency_ms"] for a in answers),
        "persons_per_answer": statistics.mean(len(a["persons"]) for a in answers),
    }


def link(repo: Path, name: str, version: int, folder: Path) -> None:
    (repo / name).mkdir(exist_ok=True)
    (repo / name / str(version)).symlink_to(folder.resolve(), target_is_directory=True)


def compare_throughput(
    url: str,
    args: argparse.Namespace,
    name: str,
    version: int,
    video: bytes,
    frames: list[bytes],
    box: list[float],
) -> tuple[float, float, int, dict[int, float]]:
    """The video's frames/s and wall time, the person crops it estimated, and the separate requests'
    frames/s per client count."""
    common = {"model": name, "version": str(version)}
    fields = {**common, "persons": json.dumps([{"box": box}]), "min_pose_score": "0"}
    video_request(url, video, fields)  # warm-up
    elapsed, lines = video_request(url, video, fields)
    boxes = [[person["box"] for person in line["persons"]] for line in lines[:-1]]
    image_requests(url, frames[:4], boxes[:4], common, 1)  # warm-up
    per_clients = {
        clients: image_requests(url, frames, boxes, common, clients)
        for clients in (int(c) for c in args.concurrency.split(","))
    }
    return args.frames / elapsed, elapsed, sum(len(b) for b in boxes), per_clients


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="360x640", help="frame height x width")
    parser.add_argument("--concurrency", default="1,2,4,8", help="client counts for the separate requests")
    parser.add_argument("--stream-fps", type=float, default=10.0)
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    parser.add_argument("--detector", default="person_detector", help="the stream's person detector")
    args = parser.parse_args()
    name, version, version_dir = chosen_version(args)
    detectors = [
        path for (model, _), path in version_folders(args.model_repo).items() if model == args.detector
    ]
    if not detectors:
        raise SystemExit(f"no detector {args.detector} in {args.model_repo}")
    height, width = (int(v) for v in args.size.split("x"))
    clip = mpii_camera_clip(0, frame_count=args.frames, size=(height, width))
    video = encode_clip(clip, "mp4")
    with VideoReader(video) as reader:
        frames = [jpeg(frame.image) for frame in reader.frames()]
    visible = clip.joints[0, 0][clip.visible[0, 0]]
    first_box = [float(v) for v in (*visible.min(axis=0), *visible.max(axis=0))]

    with tempfile.TemporaryDirectory() as pose_only, tempfile.TemporaryDirectory() as with_detector:
        # The video and the separate requests run on the pose model alone (the same work); the stream, as a
        # camera would be served, with the person detector too.
        link(Path(pose_only), name, version, version_dir)
        link(Path(with_detector), name, version, version_dir)
        link(Path(with_detector), args.detector, int(detectors[-1].name), detectors[-1])
        process, url = start_service(Path(pose_only), args.backend)
        try:
            video_fps, elapsed, persons, per_clients = compare_throughput(
                url, args, name, version, video, frames, first_box
            )
        finally:
            process.terminate()
            process.wait()
        process, url = start_service(Path(with_detector), args.backend)
        try:
            query = urllib.parse.urlencode({"model": name, "version": version})
            stream = stream_latency(url, frames, args.stream_fps, args.stream_seconds, query)
        finally:
            process.terminate()
            process.wait()
    best = max(per_clients, key=per_clients.__getitem__)
    print(f"machine: {machine()}")
    print(
        f"model: {name} v{version} on {args.backend}; clip: {args.frames} frames of {width}x{height}, "
        f"{persons} person crops ({persons / args.frames:.2f} per frame), flip on"
    )
    print(f"POST /v1/pose/video: {video_fps:.2f} frames/s ({elapsed:.2f} s)")
    for clients, rate in per_clients.items():
        print(f"separate POST /v1/pose, {clients} client(s): {rate:.2f} frames/s")
    print(f"video / best separate ({best} clients): {video_fps / per_clients[best]:.2f}x (goal >= 1.5x)")
    print(
        f"WS /v1/pose/stream at {args.stream_fps:g} frames/s for {args.stream_seconds:g} s, with "
        f"{args.detector}: {stream['answered']} of {stream['sent']} answered, {stream['dropped']} dropped; "
        f"round trip p50 {stream['round_trip_p50_ms']:.0f} ms, p90 {stream['round_trip_p90_ms']:.0f} ms; in "
        f"the service p50 {stream['service_p50_ms']:.0f} ms; "
        f"{stream['persons_per_answer']:.2f} persons per answer"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
