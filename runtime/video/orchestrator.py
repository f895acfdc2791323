"""Frames in, tracked and smoothed poses out, in frame order, with several frames' estimates in flight.

The design. A person's box in frame j comes from their keypoints in an earlier frame, so strictly
sequential tracking would hold each inference call to one frame's few crops. Instead, the frame at
position p of the stream is planned from the tracker's state after position p - L, where L is
`max_frames_in_flight`: frames p-L+1 .. p-1 may still be estimating when p's regions are sent, so up to
L frames' estimate calls are pending together and the integrator's batcher can put their crops into one
inference. The detector's boxes of those in-flight frames are used as well, so a person the detector has
just found is looked for in the following frames at once, not L frames later.

The trade-off: a propagated box is up to L frames old, so it is enlarged a little more per frame of lag
(TrackingOptions.lag_enlarge_per_frame), which costs some resolution in each crop, and a fast mover may
outrun it until the detector's next run. L = 1 is the classic sequential top-down tracker. For a given L
the results do not depend on timing: which state plans which frame is fixed by positions alone.

Order: poses are applied to the tracker one frame at a time, in frame order, and a frame's result goes
out as soon as it and every frame before it are done (a live stream waits for no later frame). The next
frame is read (decoded) and the detector runs while estimates are pending.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.joints import NUM_JOINTS
from runtime.errors import InvalidInputError
from runtime.video.smoothing import OneEuroOptions
from runtime.video.tracking import (
    PoseTracker,
    TrackedPose,
    TrackingOptions,
    TrackState,
    confident_detections,
    needs_detection,
    plan_boxes,
)

# estimate(frame_rgb, boxes (K, 4)) -> keypoints (K, 16, 2) in frame pixels, scores (K, 16)
Estimate = Callable[[np.ndarray, np.ndarray], Awaitable[tuple[np.ndarray, np.ndarray]]]
# detect(frame_rgb) -> person boxes (K, 4), scores (K,)
Detect = Callable[[np.ndarray], Awaitable[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class VideoPoseOptions:
    tracking: TrackingOptions = field(default_factory=TrackingOptions)
    smoothing: OneEuroOptions = field(default_factory=OneEuroOptions)
    max_frames_in_flight: int = 4  # L

    def __post_init__(self) -> None:
        if self.max_frames_in_flight < 1:
            raise ValueError("max_frames_in_flight must be at least 1")


@dataclass(frozen=True)
class FramePoses:
    index: int
    time_s: float
    persons: tuple[TrackedPose, ...]  # by track ID
    started_track_ids: tuple[int, ...]
    ended_track_ids: tuple[int, ...]  # tracks that ended with this frame
    detected: bool  # the detector ran on this frame


@dataclass
class _Pending:
    index: int
    time_s: float
    boxes: np.ndarray
    detected: bool
    estimate: "asyncio.Future[tuple[np.ndarray, np.ndarray]] | None"  # None: no region to estimate

    @property
    def done(self) -> bool:
        return self.estimate is None or self.estimate.done()


async def track_poses(
    frames: AsyncIterable[tuple[int, float, np.ndarray]],
    estimate: Estimate,
    detect: Detect,
    options: VideoPoseOptions | None = None,
) -> AsyncIterator[FramePoses]:
    """Per frame of `frames` ((index, time_s, RGB image), indices increasing, times not decreasing), its
    tracked persons, in frame order, each as soon as it and the frames before it are done. When `frames`
    fails (a damaged video), the frames it gave before are answered, then its error is raised. Closing
    the iterator cancels pending estimates and closes `frames`."""
    options = options or VideoPoseOptions()
    lag = options.max_frames_in_flight
    tracker = PoseTracker(options.tracking, options.smoothing)
    initial_state = tracker.state
    pending: deque[_Pending] = deque()
    # The state after each completed frame, kept until the frame `lag` positions later is planned.
    planning_states: deque[TrackState] = deque()
    # The detector's boxes of the last lag - 1 planned frames (None where it did not run).
    recent_detections: deque[np.ndarray | None] = deque(maxlen=lag - 1)
    planned = completed = 0

    async def complete_oldest() -> FramePoses:
        nonlocal completed
        frame = pending.popleft()
        keypoints, scores = (
            (np.zeros((0, NUM_JOINTS, 2)), np.zeros((0, NUM_JOINTS)))
            if frame.estimate is None
            else await frame.estimate
        )
        update = tracker.update(frame.index, frame.time_s, frame.boxes, keypoints, scores)
        planning_states.append(tracker.state)
        completed += 1
        return FramePoses(
            index=frame.index,
            time_s=frame.time_s,
            persons=update.persons,
            started_track_ids=update.started,
            ended_track_ids=update.ended,
            detected=frame.detected,
        )

    source = aiter(frames)
    next_frame: asyncio.Future[tuple[int, float, np.ndarray]] | None = asyncio.ensure_future(anext(source))
    previous: tuple[int, float] | None = None
    try:
        while next_frame is not None or pending:
            while pending and pending[0].done:
                yield await complete_oldest()
            if next_frame is None:
                if pending:
                    yield await complete_oldest()
                continue
            oldest = pending[0].estimate if pending else None
            await asyncio.wait(
                {next_frame} | ({oldest} if oldest else set()), return_when=asyncio.FIRST_COMPLETED
            )
            if not next_frame.done():
                continue  # the oldest frame is done: out with it first
            try:
                index, time_s, image = next_frame.result()
            except StopAsyncIteration:
                next_frame = None
                continue
            except Exception:
                while pending:  # the frames read before the source failed are answered first
                    yield await complete_oldest()
                raise
            if previous is not None and (index <= previous[0] or time_s < previous[1]):
                raise InvalidInputError(
                    f"frame {index} at {time_s} s came after frame {previous[0]} at {previous[1]} s: "
                    "frames go in order of index and time"
                )
            previous = (index, time_s)
            while completed < planned - lag + 1:
                yield await complete_oldest()
            state = planning_states.popleft() if planned >= lag else initial_state
            detections = None
            if needs_detection(state, index, options.tracking):
                detections = confident_detections(*await detect(image), options.tracking)
            fresh_first = [detections, *reversed(recent_detections)]
            boxes = plan_boxes(
                state, index, [d for d in fresh_first if d is not None], image.shape[:2], options.tracking
            )
            estimating = asyncio.ensure_future(estimate(image, boxes)) if len(boxes) else None
            pending.append(_Pending(index, time_s, boxes, detections is not None, estimating))
            recent_detections.append(detections)
            planned += 1
            next_frame = asyncio.ensure_future(anext(source))
    finally:
        unfinished: list[asyncio.Future[Any]] = [f.estimate for f in pending if f.estimate is not None]
        if next_frame is not None:
            unfinished.append(next_frame)
        for future in unfinished:
            future.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
