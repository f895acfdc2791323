"""The JSON lines of POST /v1/pose/video and the answers of WS /v1/pose/stream, as plain dicts (their
schemas: service.video_schemas)."""

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from runtime.video.decode import VideoInfo
from runtime.video.orchestrator import FramePoses
from service.schemas import ModelRef


def _keypoints(names: Sequence[str], xy: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"name": name, "x": float(x), "y": float(y), "score": float(score)}
        for name, (x, y), score in zip(names, xy.tolist(), scores.tolist(), strict=True)
    ]


def frame_line(result: FramePoses, joint_names: Sequence[str], smooth: bool) -> dict[str, Any]:
    """One frame: its index and time, and each person's track ID, box, raw and smoothed keypoints."""
    return {
        "frame": result.index,
        "time_s": result.time_s,
        "persons": [
            {
                "track_id": person.track_id,
                "box": [float(v) for v in person.box],
                "keypoints": _keypoints(joint_names, person.keypoints, person.scores),
                "smoothed": _keypoints(joint_names, person.smoothed, person.scores) if smooth else None,
            }
            for person in result.persons
        ],
        "started": list(result.started_track_ids),
        "ended": list(result.ended_track_ids),
        "detected": result.detected,
    }


def video_info(info: VideoInfo) -> dict[str, Any]:
    return {
        "width": info.width,
        "height": info.height,
        "codec": info.codec,
        "frame_rate": info.frame_rate,
        "duration_s": info.duration_s,
    }


def done_line(
    frames: int,
    tracks: int,
    detector_runs: int,
    elapsed_s: float,
    model: ModelRef,
    detector: ModelRef | None,
    info: VideoInfo,
) -> dict[str, Any]:
    return {
        "done": True,
        "frames": frames,
        "tracks": tracks,
        "detector_runs": detector_runs,
        "elapsed_s": round(elapsed_s, 3),
        "frames_per_s": round(frames / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        "model": model.model_dump(),
        "detector": None if detector is None else detector.model_dump(),
        "video": video_info(info),
    }


def error_line(status: int, detail: str, frames: int, request_id: str | None) -> dict[str, Any]:
    return {"error": True, "status": status, "detail": detail, "frames": frames, "request_id": request_id}


def encode_line(line: dict[str, Any]) -> bytes:
    """One JSON Lines record: compact JSON and a newline."""
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"
