"""What every image's pipeline shares: the slots that bound how many images are decoded at once, the pixel
limit, and the threads that decode keypoints; and how a request waits for a slot."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass

from runtime.errors import DeadlineExceededError


@contextlib.asynccontextmanager
async def held(slots: asyncio.Semaphore, deadline: float, step: str) -> AsyncIterator[None]:
    """One of `slots`, waited for until `deadline` (DeadlineExceededError naming the `step` it waited for)."""
    try:
        async with asyncio.timeout_at(deadline):
            await slots.acquire()
    except TimeoutError as error:
        raise DeadlineExceededError(f"the request deadline passed while it waited to {step}") from error
    try:
        yield
    finally:
        slots.release()


@dataclass(frozen=True)
class PipelineResources:
    decode_slots: asyncio.Semaphore
    max_image_pixels: int
    keypoint_helpers: tuple[Executor, int] | None

    def decode_slot(self, deadline: float) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one of the decode slots (waiting until `deadline` at most) while an image is in memory."""
        return held(self.decode_slots, deadline, "decode")
