"""The shapes of POST /v1/pose as the clients use them: person specs (or detection options) out, keypoint
arrays back.

The service answers with joints by name (docs/reference.md#joints); the clients work with (16, 2) arrays in
JOINT_NAMES order, so the names are checked and mapped here, once.
"""

import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clients.http import ServiceCallError, ServiceClient
from core.joints import JOINT_NAMES, NUM_JOINTS

POSE_PATH = "/v1/pose"
_JOINT_INDEX = {name: index for index, name in enumerate(JOINT_NAMES)}


@dataclass(frozen=True)
class PredictedPerson:
    """One person as the service predicted it: keypoints (16, 2) in original-image pixels, scores (16,), crop
    box (4,) and, for a person the detector found, its detection score. The clients' array form of the
    service's per-person answer."""

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray | None = None
    detection_score: float | None = None


@dataclass(frozen=True)
class PoseResult:
    """The decoded response body as sent, and the persons parsed from it: in request order, or as the detector
    found them (best score first)."""

    body: dict[str, Any]
    persons: list[PredictedPerson]


@dataclass(frozen=True)
class DetectionRequest:
    """How the service's person detector is asked when a request gives no persons; None: the service's own
    setting (service/README.md, "Finding the persons")."""

    detector: str | None = None
    detector_version: int | None = None
    score_threshold: float | None = None
    max_persons: int | None = None
    min_size: float | None = None

    def form_fields(self) -> dict[str, str]:
        """The multipart form fields of the options that are set."""
        fields = {
            "detector": self.detector,
            "detector_version": self.detector_version,
            "detect_score_threshold": self.score_threshold,
            "detect_max_persons": self.max_persons,
            "detect_min_size": self.min_size,
        }
        return {name: str(value) for name, value in fields.items() if value is not None}


def pose_arrays(persons: Sequence[PredictedPerson]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints (N, 16, 2), scores (N, 16) and boxes (N, 4; NaN where none was answered), as drawn."""
    keypoints = np.array([person.keypoints for person in persons], np.float64).reshape(-1, NUM_JOINTS, 2)
    scores = np.array([person.scores for person in persons], np.float64).reshape(-1, NUM_JOINTS)
    boxes = np.array([np.full(4, np.nan) if p.box is None else p.box for p in persons], np.float64)
    return keypoints, scores, boxes.reshape(-1, 4)


def detection_scores(persons: Sequence[PredictedPerson]) -> np.ndarray:
    """(N,) the detector's score of each person, NaN for a person the request gave."""
    scores = [np.nan if p.detection_score is None else p.detection_score for p in persons]
    return np.array(scores, np.float64)


def box_person(box: Sequence[float]) -> dict[str, Any]:
    return {"box": [float(v) for v in box]}


def center_scale_person(center: Sequence[float], scale: float) -> dict[str, Any]:
    """A person in the MPII convention, so that the service crops exactly as the reference does."""
    return {"center": [float(center[0]), float(center[1])], "scale": float(scale)}


def parse_person(person: dict[str, Any]) -> PredictedPerson:
    """Keypoints by joint name → arrays in JOINT_NAMES order; ServiceCallError on a malformed answer."""
    try:
        entries = person["keypoints"]
        keypoints = np.full((NUM_JOINTS, 2), np.nan)
        scores = np.full(NUM_JOINTS, np.nan)
        for entry in entries:
            joint = _JOINT_INDEX[entry["name"]]
            keypoints[joint] = (float(entry["x"]), float(entry["y"]))
            scores[joint] = float(entry["score"])
        box = np.asarray(person["box"], dtype=np.float64) if person.get("box") is not None else None
        score = person.get("score")
        detection_score = None if score is None else float(score)
    except (KeyError, TypeError, ValueError) as error:
        raise ServiceCallError(
            f"malformed person in the response: {type(error).__name__}: {error}"
        ) from error
    if len(entries) != NUM_JOINTS or np.isnan(scores).any():
        raise ServiceCallError(
            f"the response lists {len(entries)} keypoints, expected the {NUM_JOINTS} MPII joints"
        )
    return PredictedPerson(keypoints=keypoints, scores=scores, box=box, detection_score=detection_score)


async def estimate_poses(
    client: ServiceClient,
    image: bytes,
    filename: str,
    persons: Sequence[dict[str, Any]] | None,
    flip: bool = True,
    model: str | None = None,
    version: int | None = None,
    detection: DetectionRequest = DetectionRequest(),
) -> PoseResult:
    """Send one image with its persons as multipart (the image goes as its own bytes, no base64 bloat);
    `persons` None: the service's detector finds them, asked as `detection` says."""
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    form: dict[str, str] = {"flip": "true" if flip else "false"}
    if persons is None:
        form.update(detection.form_fields())
    else:
        form["persons"] = json.dumps(list(persons))
    if model is not None:
        form["model"] = model
    if version is not None:
        form["version"] = str(version)
    body = await client.request_json(
        "POST", POSE_PATH, files={"image": (filename, image, content_type)}, data=form
    )
    answered = body.get("persons") if isinstance(body, dict) else None
    if not isinstance(answered, list):
        raise ServiceCallError("the response has no list of persons")
    if persons is not None and len(answered) != len(persons):
        raise ServiceCallError(f"sent {len(persons)} person(s), the response has {len(answered)}")
    return PoseResult(body=body, persons=[parse_person(person) for person in answered])
