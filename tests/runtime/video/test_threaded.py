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


def test_a_cancelled_consumer_lets_the_running_step_finish_then_closes() -> None:
    started, release, closed = threading.Event(), threading.Event(), threading.Event()

    def slow() -> Generator[int, None, None]:
        try:
            yield 0
            started.set()
            release.wait(WAIT_S)
            yield 1
        finally:
            closed.set()

    async def scenario() -> None:
        async def consume() -> None:
            async for _ in iterate_in_thread(slow()):
                pass

        task = asyncio.create_task(consume())
        await asyncio.to_thread(started.wait, WAIT_S)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not closed.is_set()  # a generator cannot be closed while its next() runs
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert closed.is_set()
