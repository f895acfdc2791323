"""A stand-in for the pose service that misbehaves on demand (503 bursts, refusals), over real HTTP.

The real service never returns 503 on cue, so the client's retry and refusal paths are tested against
this double. It answers like the service's API with keypoints derived from each person's centre, so tests
can check which answer went to which entry; a request without persons gets the detections set for its file
name, as the service's detector would find them.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from helpers import app_in_thread

from core.joints import JOINT_NAMES


def stub_keypoints(cx: float, cy: float) -> list[tuple[float, float]]:
    """What the stub predicts for a person centred at (cx, cy): joint j at (cx + j, cy - j)."""
    return [(cx + j, cy - j) for j in range(len(JOINT_NAMES))]


@dataclass(frozen=True)
class StubDetection:
    """A person the stub's "detector" finds: its box and score, and its keypoints (None: stub_keypoints of
    the box's top-left corner, as for a given box)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: list[tuple[float, float]] | None = None


@dataclass
class StubBehaviour:
    unavailable_first: int = 0  # answer this many requests with 503 first
    retry_after: str | None = "0"
    refuse_images: frozenset[str] = frozenset()  # answer 422 for these file names
    detections: dict[str, list[StubDetection]] = field(default_factory=dict)  # by file name
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _answer(box: list[float], keypoints: list[tuple[float, float]], score: float | None) -> dict[str, Any]:
    return {
        "box": box,
        "score": score,
        "keypoints": [
            {"name": name, "x": x, "y": y, "score": 0.5}
            for name, (x, y) in zip(JOINT_NAMES, keypoints, strict=True)
        ],
    }


def build_app(behaviour: StubBehaviour) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/pose")
    async def pose(
        request: Request, image: UploadFile, persons: str | None = Form(None), flip: str = Form("true")
    ) -> JSONResponse:
        form = await request.form()
        with behaviour.lock:
            behaviour.requests.append(
                {
                    "filename": image.filename,
                    "persons": None if persons is None else json.loads(persons),
                    "flip": flip,
                    "authorization": request.headers.get("authorization"),
                    "form": {k: v for k, v in form.items() if isinstance(v, str)},
                }
            )
            unavailable = behaviour.unavailable_first > 0
            behaviour.unavailable_first -= int(unavailable)
        if unavailable:
            headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after is not None else {}
            return JSONResponse({"detail": "queue full"}, status_code=503, headers=headers)
        if image.filename in behaviour.refuse_images:
            return JSONResponse({"detail": f"cannot decode {image.filename}"}, status_code=422)
        answers = []
        if persons is None:
            for found in behaviour.detections.get(image.filename or "", []):
                keypoints = found.keypoints or stub_keypoints(*found.box[:2])
                answers.append(_answer(list(found.box), keypoints, found.score))
        for person in [] if persons is None else json.loads(persons):
            cx, cy = person["center"] if "center" in person else person["box"][:2]
            answers.append(_answer([cx - 10, cy - 10, cx + 10, cy + 10], stub_keypoints(cx, cy), None))
        return JSONResponse(
            {
                "model": {"name": "stub", "version": 1, "backend": "none"},
                "image": {"width": 100, "height": 100},
                "persons": answers,
                "timing_ms": {},
            }
        )

    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the stub on a free local port in a thread; yields its base URL."""
    with app_in_thread(app, log_level="warning", lifespan="off") as served:
        yield served.url
