"""A blocking generator (decoding) as an async iterator: each `next()` in a worker thread, one at a time.

Closing or cancelling the async iterator waits for a `next()` already running in its thread, then closes
the generator in a thread too, so a VideoReader's file is closed whichever way the consumer stops.
"""

import asyncio
from collections.abc import AsyncGenerator, Generator
from concurrent.futures import Executor
from typing import TypeVar, cast

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(
    items: Generator[T, None, None], executor: Executor | None = None
) -> AsyncGenerator[T, None]:
    """`items` one by one, each produced in `executor` (asyncio's default when None)."""
    loop = asyncio.get_running_loop()
    running: asyncio.Future[object] | None = None
    try:
        while True:
            running = loop.run_in_executor(executor, next, items, _DONE)
            # Shielded: a cancelled consumer must not leave the thread's next() racing the close below.
            item = await asyncio.shield(running)
            if item is _DONE:
                return
            yield cast(T, item)
    finally:
        if running is not None and not running.done():
            await asyncio.wait([running])
            running.exception()  # retrieved: an error of an abandoned next() has nobody to go to
        await loop.run_in_executor(executor, items.close)
