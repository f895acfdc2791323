"""What every image's pipeline shares: the slots that bound how many images are decoded at once, the pixel
limit, and the threads that decode keypoints."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass

from runtime.errors import DeadlineExceededError


@dataclass(frozen=True)
class PipelineResources:
    decode_slots: asyncio.Semaphore
    max_image_pixels: int
    keypoint_helpers: tuple[Executor, int] | None

    @contextlib.asynccontextmanager
    async def decode_slot(self, deadline: float) -> AsyncIterator[None]:
        """Hold one of the decode slots (waiting until `deadline` at most) while an image is in memory."""
        try:
            async with asyncio.timeout_at(deadline):
                await self.decode_slots.acquire()
        except TimeoutError as error:
            raise DeadlineExceededError("the request deadline passed while it waited to decode") from error
        try:
            yield
        finally:
            self.decode_slots.release()
