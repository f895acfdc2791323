"""The shapes of POST /v1/pose as the clients use them: person specs out, keypoint arrays back.

The service answers with joints by name (REFERENCE.md §1); the clients work with (16, 2) arrays in
JOINT_NAMES order, so the names are checked and mapped here, once.
"""

import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clients.http import ServiceClient, ServiceError
from core.joints import JOINT_NAMES, NUM_JOINTS

POSE_PATH = "/v1/pose"
_JOINT_INDEX = {name: index for index, name in enumerate(JOINT_NAMES)}


@dataclass(frozen=True)
class PersonPose:
    """One person's answer: keypoints (16, 2) in original-image pixels, scores (16,), crop box (4,)."""

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray | None = None


@dataclass(frozen=True)
class PoseResult:
    """The decoded response body as sent, and the persons parsed from it, in request order."""

    body: dict[str, Any]
    persons: list[PersonPose]


def pose_arrays(persons: Sequence[PersonPose]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints (N, 16, 2), scores (N, 16) and boxes (N, 4; NaN where none was answered), as drawn."""
    keypoints = np.array([person.keypoints for person in persons], np.float64).reshape(-1, NUM_JOINTS, 2)
    scores = np.array([person.scores for person in persons], np.float64).reshape(-1, NUM_JOINTS)
    boxes = np.array([np.full(4, np.nan) if p.box is None else p.box for p in persons], np.float64)
    return keypoints, scores, boxes.reshape(-1, 4)


def box_person(box: Sequence[float]) -> dict[str, Any]:
    return {"box": [float(v) for v in box]}


def center_scale_person(center: Sequence[float], scale: float) -> dict[str, Any]:
    """A person in the MPII convention, so that the service crops exactly as the reference does."""
    return {"center": [float(center[0]), float(center[1])], "scale": float(scale)}


def parse_person(person: dict[str, Any]) -> PersonPose:
    """Keypoints by joint name → arrays in JOINT_NAMES order; raises ServiceError on a malformed answer."""
    try:
        entries = person["keypoints"]
        keypoints = np.full((NUM_JOINTS, 2), np.nan)
        scores = np.full(NUM_JOINTS, np.nan)
        for entry in entries:
            joint = _JOINT_INDEX[entry["name"]]
            keypoints[joint] = (float(entry["x"]), float(entry["y"]))
            scores[joint] = float(entry["score"])
        box = np.asarray(person["box"], dtype=np.float64) if person.get("box") is not None else None
    except (KeyError, TypeError, ValueError) as error:
        raise ServiceError(f"malformed person in the response: {type(error).__name__}: {error}") from error
    if len(entries) != NUM_JOINTS or np.isnan(scores).any():
        raise ServiceError(
            f"the response lists {len(entries)} keypoints, expected the {NUM_JOINTS} MPII joints"
        )
    return PersonPose(keypoints=keypoints, scores=scores, box=box)


async def estimate_poses(
    client: ServiceClient,
    image: bytes,
    filename: str,
    persons: Sequence[dict[str, Any]],
    flip: bool = True,
    model: str | None = None,
    version: int | None = None,
) -> PoseResult:
    """Send one image with its persons as multipart (the image goes as its own bytes, no base64 bloat)."""
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    form: dict[str, str] = {"persons": json.dumps(list(persons)), "flip": "true" if flip else "false"}
    if model is not None:
        form["model"] = model
    if version is not None:
        form["version"] = str(version)
    body = await client.request_json(
        "POST", POSE_PATH, files={"image": (filename, image, content_type)}, data=form
    )
    answered = body.get("persons") if isinstance(body, dict) else None
    if not isinstance(answered, list) or len(answered) != len(persons):
        count = len(answered) if isinstance(answered, list) else "no"
        raise ServiceError(f"sent {len(persons)} person(s), the response has {count}")
    return PoseResult(body=body, persons=[parse_person(person) for person in answered])
