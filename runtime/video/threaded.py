"""A blocking generator (decoding) as an async iterator: each `next()` in a worker thread, one at a time.

Closing or cancelling the async iterator closes the generator in a thread too, once a `next()` already
running in its thread is done, so a VideoReader's file is closed whichever way the consumer stops. The
close happens even when the consumer cannot wait for it: a cancel scope that cancels every await (anyio's,
which Starlette's streaming responses use) only stops the waiting.
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
        closed: asyncio.Future[None] = loop.create_future()

        def forward(done: "asyncio.Future[None]") -> None:
            error = None if done.cancelled() else done.exception()
            if closed.done():
                return
            if error is not None:
                closed.set_exception(error)
            else:
                closed.set_result(None)

        def close(step: "asyncio.Future[object] | None" = None) -> None:
            if step is not None and not step.cancelled():
                step.exception()  # retrieved: an error of an abandoned next() has nobody to go to
            loop.run_in_executor(executor, items.close).add_done_callback(forward)

        if running is not None and not running.done():
            running.add_done_callback(close)
        else:
            close()
        await asyncio.shield(closed)
