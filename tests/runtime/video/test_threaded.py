import asyncio
import threading
from collections.abc import Generator

import pytest

from runtime.video.threaded import iterate_in_thread

WAIT_S = 10.0


def test_items_come_in_order_from_a_worker_thread() -> None:
    producers: list[int] = []

    def numbers() -> Generator[int, None, None]:
        for number in range(5):
            producers.append(threading.get_ident())
            yield number

    async def consume() -> tuple[list[int], int]:
        return [number async for number in iterate_in_thread(numbers())], threading.get_ident()

    items, consumer = asyncio.run(consume())
    assert items == list(range(5))
    assert consumer not in producers


def test_an_error_of_the_generator_reaches_the_consumer() -> None:
    def failing() -> Generator[int, None, None]:
        yield 1
        raise LookupError("damaged at frame 1")

    async def consume() -> list[int]:
        return [number async for number in iterate_in_thread(failing())]

    with pytest.raises(LookupError, match="frame 1"):
        asyncio.run(consume())


def test_stopping_early_closes_the_generator() -> None:
    closed = threading.Event()

    def endless() -> Generator[int, None, None]:
        try:
            number = 0
            while True:
                yield number
                number += 1
        finally:
            closed.set()

    async def consume() -> None:
        items = iterate_in_thread(endless())
        async for number in items:
            if number == 2:
                break
        await items.aclose()

    asyncio.run(consume())
    assert closed.is_set()


class SlowStep:
    """A generator whose second step blocks in its thread until released, and what happened to it."""

    def __init__(self) -> None:
        self.started, self.release, self.closed = threading.Event(), threading.Event(), threading.Event()
        self.stepping = threading.Lock()
        self.running_when_closed: list[bool] = []

    def items(self) -> Generator[int, None, None]:
        try:
            yield 0
            with self.stepping:
                self.started.set()
                self.release.wait(WAIT_S)
            yield 1
        finally:
            self.running_when_closed.append(self.stepping.locked())
            self.closed.set()

    async def consumer_in_its_second_step(self) -> "asyncio.Task[None]":
        async def consume() -> None:
            async for _ in iterate_in_thread(self.items()):
                pass

        task = asyncio.create_task(consume())
        await asyncio.to_thread(self.started.wait, WAIT_S)
        return task


def test_a_cancelled_consumer_lets_the_running_step_finish_then_closes() -> None:
    slow = SlowStep()

    async def scenario() -> None:
        task = await slow.consumer_in_its_second_step()
        task.cancel()
        await asyncio.sleep(0.05)
        assert not slow.closed.is_set()  # a generator cannot be closed while its next() runs
        slow.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert slow.running_when_closed == [False]


def test_a_consumer_cancelled_at_every_await_still_closes_the_generator_after_the_running_step() -> None:
    """anyio's cancel scopes (Starlette's streaming) cancel each await in a finally block too: the close
    must not depend on the consumer waiting for it."""
    slow = SlowStep()

    async def scenario() -> None:
        task = await slow.consumer_in_its_second_step()
        for _ in range(5):  # again and again, as a cancel scope does at each await of the finally
            task.cancel()
            await asyncio.sleep(0.01)
        assert task.done() and not slow.closed.is_set()
        slow.release.set()
        assert await asyncio.to_thread(slow.closed.wait, WAIT_S), "the generator was not closed"

    asyncio.run(scenario())
    assert slow.running_when_closed == [False]
