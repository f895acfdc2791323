"""The video routes' options and the JSON lines they answer with (pydantic, the API edge only).

The lines themselves are written as plain dicts (service.video_lines), one per frame, for speed; these
models document them in OpenAPI and the tests validate every line against them.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from runtime.video.tracking import Similarity
from service.schemas import Keypoint, ModelRef, PoseOptions


class TrackingFields(BaseModel):
    """Tracking and smoothing, per request; each left out takes the service's setting (HGPOSE_TRACK_*,
    HGPOSE_SMOOTH*). JSON's types strictly, as PoseOptions' (a form's text is read into them first)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    detect_every: StrictInt | None = Field(
        default=None, ge=1, description="run the detector on every N-th frame"
    )
    max_missed_frames: StrictInt | None = Field(
        default=None, ge=0, description="end a track not seen for more frames than this"
    )
    weak_track_score: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="a track whose mean joint score is lower calls the detector"
    )
    min_pose_score: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="a pose whose mean joint score is lower is no person"
    )
    joint_score_threshold: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="joints scoring this much count for boxes and matching"
    )
    similarity: Similarity | None = Field(default=None, description="match poses to tracks by oks or iou")
    min_similarity: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="a pose less like a track than this is not its"
    )
    smooth: StrictBool | None = Field(default=None, description="One-Euro smoothing (default: on)")
    smooth_min_cutoff_hz: StrictFloat | None = Field(
        default=None, gt=0, description="One-Euro cut-off at rest: lower smooths more"
    )
    smooth_beta: StrictFloat | None = Field(
        default=None, ge=0, description="One-Euro cut-off increase per person size per second of speed"
    )


class VideoOptions(PoseOptions, TrackingFields):
    """POST /v1/pose/video's form fields beside `video`, and WS /v1/pose/stream's query parameters:
    `persons` are those of the first frame."""


class TrackedPerson(BaseModel):
    track_id: int = Field(description="the same person keeps the same ID across frames; never reused")
    box: list[float] = Field(description="[x1, y1, x2, y2]: the region the pose was estimated in")
    keypoints: list[Keypoint] = Field(description="as estimated in this frame, as in /v1/pose")
    smoothed: list[Keypoint] | None = Field(
        description="One-Euro filtered positions (scores as estimated); null when smoothing is off"
    )


class FrameLine(BaseModel):
    frame: int = Field(description="0-based frame index in presentation order")
    time_s: float = Field(description="presentation time from the video's start")
    persons: list[TrackedPerson] = Field(description="by track ID")
    started: list[int] = Field(description="track IDs first seen in this frame")
    ended: list[int] = Field(description="track IDs that ended with this frame")
    detected: bool = Field(description="the person detector ran on this frame")


class VideoInfo(BaseModel):
    width: int
    height: int
    codec: str
    frame_rate: float | None
    duration_s: float | None


class DoneLine(BaseModel):
    done: Literal[True]
    frames: int
    tracks: int = Field(description="track IDs given out")
    detector_runs: int
    elapsed_s: float
    frames_per_s: float
    model: ModelRef
    detector: ModelRef | None
    video: VideoInfo


class ErrorLine(BaseModel):
    """The last line when the video fails after streaming has started (a damaged frame, a deadline)."""

    error: Literal[True]
    status: int = Field(description="the HTTP status the error would have had before streaming")
    detail: str
    frames: int = Field(description="frames answered before the error")
    request_id: str | None


class StreamAnswer(FrameLine):
    """WS /v1/pose/stream's answer to a frame: its tracked persons, and what the connection has done."""

    received: int = Field(description="frames received on this connection so far")
    dropped: int = Field(description="frames dropped unanswered so far: they came while others were busy")
    latency_ms: float = Field(description="from receiving the frame to sending this answer")


class StreamError(BaseModel):
    """WS /v1/pose/stream's answer to a frame it could not track (the stream goes on), or the last message
    before the server closes it."""

    error: Literal[True]
    status: int
    detail: str
    frame: int | None
