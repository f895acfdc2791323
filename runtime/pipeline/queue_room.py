"""Waiting for room in a model's queue, for work that must not be refused mid-way (a video's frames).

An image request that finds the queue full is refused at once (a 503 its client retries). A video has
already streamed its first frames when the queue fills, so its next frame waits for room instead, up to
its deadline; at most `max_frames_in_flight` frames of one video wait at a time.
"""

import asyncio

from runtime.batching import DynamicBatcher, Reservation
from runtime.errors import DeadlineExceededError, QueueFullError

# How often a waiting frame looks for room again: far shorter than any batch's inference.
ROOM_POLL_S = 0.005


async def reserve_when_free(batcher: DynamicBatcher, crops: int, deadline: float) -> Reservation:
    """A reservation of `crops` crops, once the queue has room; DeadlineExceededError when it has none
    by `deadline` (on the event loop's clock), QueueFullError when the queue could never hold them."""
    if crops > batcher.queue_size:
        raise QueueFullError(f"{crops} crops can never fit in a queue of {batcher.queue_size}")
    loop = asyncio.get_running_loop()
    while True:
        try:
            return batcher.reserve(crops)
        except QueueFullError:
            if loop.time() + ROOM_POLL_S > deadline:
                raise DeadlineExceededError(
                    "the request deadline passed while it waited for room in the inference queue"
                ) from None
            await asyncio.sleep(ROOM_POLL_S)
