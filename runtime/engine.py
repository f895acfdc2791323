"""The runtime as one object: the served models and what every estimate shares, for any edge to drive.

The HTTP service, and any other edge, hold one PoseRuntime: it loads the repository, hands out model
versions, runs the pose pipeline under the options' limits, and releases everything on close. It knows
nothing of the protocol that asked.
"""

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from core.codec import FLIP_PAIR_CROPS
from runtime.backends import create_backend
from runtime.errors import InvalidInputError, NoDetectorError, QueueFullError
from runtime.memory import return_large_buffers_to_the_system
from runtime.options import DetectionOptions, RuntimeOptions
from runtime.pipeline.detect import ImageDetections, detect_persons
from runtime.pipeline.network import check_crops, run_network
from runtime.pipeline.pose import Detection, PoseEstimate, estimate
from runtime.pipeline.regions import PersonSpec
from runtime.pipeline.rendering import RenderedImage, render_png
from runtime.pipeline.resources import PipelineResources, held
from runtime.repository.live import LiveRepository, ObserverFactory
from runtime.repository.version import BackendFactory, LoadedDetector, LoadedModel
from runtime.video.frame_models import FrameModels


class PoseRuntime:
    """Models, their batchers and the shared limits of one process; start() loads, close() releases."""

    def __init__(
        self,
        options: RuntimeOptions,
        backend_factory: BackendFactory = create_backend,
        observer_factory: ObserverFactory | None = None,
    ) -> None:
        self.options = options
        return_large_buffers_to_the_system()
        self.repository = LiveRepository(options, backend_factory, observer_factory)
        helper_threads = options.keypoint_threads - 1
        self._keypoint_pool = (
            ThreadPoolExecutor(helper_threads, thread_name_prefix="keypoints") if helper_threads > 0 else None
        )
        self._resources = PipelineResources(
            decode_slots=asyncio.Semaphore(options.max_concurrent_decodes),
            max_image_pixels=options.max_image_pixels,
            keypoint_helpers=(self._keypoint_pool, helper_threads) if self._keypoint_pool else None,
        )
        self._render_slots = asyncio.Semaphore(options.max_concurrent_renders)
        self._videos = 0

    async def start(self) -> None:
        """Load every version in the repository (off the event loop), then start serving and polling."""
        await asyncio.to_thread(self.repository.load_all)
        self.repository.start()

    async def close(self) -> None:
        await self.repository.close()
        if self._keypoint_pool is not None:
            self._keypoint_pool.shutdown(wait=True)

    def deadline(self) -> float:
        """A new request's deadline on the event loop's clock."""
        return asyncio.get_running_loop().time() + self.options.request_deadline_s

    @contextlib.contextmanager
    def lease(self, model: str | None, version: int | None) -> Iterator[LoadedModel]:
        """The version a request asks for, kept from release until the request is done with it."""
        with self.repository.lease(model, version) as leased:
            yield leased

    async def estimate(
        self,
        model: LoadedModel,
        image_bytes: bytes,
        persons: list[PersonSpec] | None,
        flip: bool,
        deadline: float,
        detection: DetectionOptions | None = None,
    ) -> PoseEstimate:
        """Keypoints of every person in the image, from a leased `model`; raises runtime.errors types.

        `persons` None: a detector finds them, asked as `detection` says (the options' own by default), and
        at most `max_persons` of them are kept.
        """
        return await self._estimate(model, image_bytes, persons, flip, deadline, detection, None)

    async def estimate_and_render(
        self,
        model: LoadedModel,
        image_bytes: bytes,
        persons: list[PersonSpec] | None,
        flip: bool,
        deadline: float,
        detection: DetectionOptions | None = None,
    ) -> tuple[PoseEstimate, RenderedImage]:
        """As `estimate`, and the image drawn with the skeletons (PNG, scaled to at most render_max_side).

        At most max_concurrent_renders requests are past this admission at once, from before their image is
        decoded until their PNG is made; the others wait (until their deadline) holding only their bytes.
        """
        async with held(self._render_slots, deadline, "render"):
            side = self.options.render_max_side
            found = await self._estimate(model, image_bytes, persons, flip, deadline, detection, side)
            return found, await asyncio.to_thread(render_png, found)

    async def _estimate(
        self,
        model: LoadedModel,
        image_bytes: bytes,
        persons: list[PersonSpec] | None,
        flip: bool,
        deadline: float,
        detection: DetectionOptions | None,
        render_side: int | None,
    ) -> PoseEstimate:
        resources = self._resources
        if persons is not None:
            if len(persons) > self.options.max_persons:
                raise InvalidInputError(
                    f"too many persons: {len(persons)}, the limit is {self.options.max_persons}"
                )
            return await estimate(model, image_bytes, persons, flip, deadline, resources, render_side)
        asked = self._detection(detection)
        with self.repository.lease_detector(asked.model, asked.version) as detector:
            found_by = Detection(detector, asked)
            return await estimate(model, image_bytes, None, flip, deadline, resources, render_side, found_by)

    async def detect(
        self, image_bytes: bytes, deadline: float, detection: DetectionOptions | None = None
    ) -> tuple[LoadedDetector, ImageDetections]:
        """Only the persons in the image, found by the detector `detection` names (the only one served by
        default), at most `max_persons` of them."""
        asked = self._detection(detection)
        with self.repository.lease_detector(asked.model, asked.version) as detector:
            found = await detect_persons(detector, image_bytes, asked, deadline, self._resources)
        return detector, found

    @contextlib.contextmanager
    def lease_frame_models(
        self,
        model: str | None,
        version: int | None,
        flip: bool,
        detection: DetectionOptions | None = None,
        first_boxes: np.ndarray | None = None,
    ) -> Iterator[FrameModels]:
        """The models one video or live stream runs on, held (with one of `max_concurrent_videos` slots)
        until it ends; QueueFullError when every slot is taken.

        Without `first_boxes` the detector finds the persons (NoDetectorError when none is ready); with
        them the detector, when one is ready, still finds newcomers later.
        """
        if first_boxes is not None and len(first_boxes) > self.options.max_persons:
            raise InvalidInputError(
                f"too many persons: {len(first_boxes)}, the limit is {self.options.max_persons}"
            )
        asked = self._detection(detection)
        with self._video_slot(), self.lease(model, version) as pose_model, contextlib.ExitStack() as stack:
            try:
                detector: LoadedDetector | None = stack.enter_context(
                    self.repository.lease_detector(asked.model, asked.version)
                )
            except NoDetectorError:
                if first_boxes is None:
                    raise
                detector = None
            deadline_s = self.options.request_deadline_s
            yield FrameModels(pose_model, detector, asked, flip, self._resources, deadline_s, first_boxes)

    @contextlib.contextmanager
    def _video_slot(self) -> Iterator[None]:
        limit = self.options.max_concurrent_videos
        if self._videos >= limit:
            raise QueueFullError(
                f"{limit} videos and streams are being tracked, the most at once: retry later"
            )
        self._videos += 1
        try:
            yield
        finally:
            self._videos -= 1

    def _detection(self, detection: DetectionOptions | None) -> DetectionOptions:
        asked = detection or self.options.detection
        return replace(asked, max_persons=min(asked.max_persons, self.options.max_persons))

    @property
    def max_crops(self) -> int:
        """Most crops one request may run: as many as a pose request with the most persons and flip."""
        return self.options.max_persons * FLIP_PAIR_CROPS

    async def run_network(self, model: LoadedModel, crops: np.ndarray, deadline: float) -> np.ndarray:
        """The bare network's heatmaps for caller-made crops, through `model`'s batcher; raises
        runtime.errors types."""
        check_crops(model, crops)
        if len(crops) > self.max_crops:
            raise InvalidInputError(f"too many crops: {len(crops)}, the limit is {self.max_crops}")
        return await run_network(model, crops, deadline)
