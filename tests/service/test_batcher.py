"""DynamicBatcher on its own: batch composition, deadlines, errors, bounded queue, draining on close."""

import asyncio
import threading

import numpy as np
import pytest

from runtime.batching import (
    BatcherClosedError,
    DeadlineExceededError,
    DynamicBatcher,
    GroupTooLargeError,
    InferenceError,
    QueueFullError,
)


class RecordingNetwork:
    """A real (tiny) computation standing in for the network: row sums, recording each batch's size."""

    def __init__(self, fail: bool = False) -> None:
        self.batch_sizes: list[int] = []
        self.fail = fail

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(batch))
        if self.fail:
            raise ValueError("device lost")
        return batch.reshape(len(batch), -1).sum(axis=1)


def groups_of(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((size, 2, 2, 3)).astype(np.float32) for size in sizes]


def make_batcher(network: RecordingNetwork, **options: float) -> DynamicBatcher:
    settings = {"max_batch": 4, "max_wait_s": 0.05, "queue_size": 32, **options}
    return DynamicBatcher(network, **settings)  # type: ignore[arg-type]


def test_concurrent_requests_share_batches_without_splitting_groups() -> None:
    network = RecordingNetwork()
    observed: list[tuple[int, float]] = []

    async def scenario() -> list[list[np.ndarray]]:
        batcher = DynamicBatcher(
            network,
            max_batch=4,
            max_wait_s=0.2,
            queue_size=32,
            on_batch=lambda n, s, _padded: observed.append((n, s)),
        )
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        requests = [groups_of([2], seed) for seed in range(5)]
        results = await asyncio.gather(*(batcher.submit(r, deadline) for r in requests))
        await batcher.close()
        return [[res.output for res in request] for request in results], requests

    outputs, requests = asyncio.run(scenario())
    assert network.batch_sizes == [4, 4, 2]
    assert [n for n, _ in observed] == [4, 4, 2]
    for request, output in zip(requests, outputs, strict=True):
        np.testing.assert_allclose(output[0], request[0].reshape(2, -1).sum(axis=1), rtol=1e-6)


class GearNetwork(RecordingNetwork):
    """Takes only the given batch sizes, as Lite on Ascend does, and records every batch it ran."""

    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.sizes = sizes
        self.batches: list[np.ndarray] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) not in self.sizes:
            raise ValueError(f"batch {len(batch)} is not a gear")
        self.batches.append(batch)
        return super().__call__(batch)


def test_batches_are_padded_to_the_smallest_gear_and_padding_never_returned() -> None:
    network = GearNetwork((2, 4))
    observed: list[tuple[int, int]] = []

    async def scenario() -> tuple[list[list[np.ndarray]], list[list[np.ndarray]], DynamicBatcher]:
        batcher = DynamicBatcher(
            network,
            max_batch=8,
            max_wait_s=0.2,
            queue_size=32,
            on_batch=lambda n, _s, padded: observed.append((n, padded)),
            batch_sizes=(4, 2),
        )
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        requests = [groups_of([1], 1), groups_of([2], 2), groups_of([2, 1], 3)]
        results = await asyncio.gather(*(batcher.submit(r, deadline) for r in requests))
        await batcher.close()
        return [[res.output for res in request] for request in results], requests, batcher

    outputs, requests, batcher = asyncio.run(scenario())
    assert batcher.max_batch == 4  # capped at the largest gear
    # groups of 1, 2 | 2, 1 crops: two batches of 3 real crops, each padded by one zero crop to gear 4
    assert network.batch_sizes == [4, 4]
    assert observed == [(3, 1), (3, 1)]
    for request, output in zip(requests, outputs, strict=True):
        for group, rows in zip(request, output, strict=True):
            np.testing.assert_allclose(rows, group.reshape(len(group), -1).sum(axis=1), rtol=1e-6)
    assert not network.batches[0][3:].any() and not network.batches[1][3:].any()  # the padding is zeros


def test_a_group_larger_than_the_largest_gear_is_refused() -> None:
    async def scenario() -> None:
        batcher = DynamicBatcher(
            GearNetwork((1, 2)), max_batch=8, max_wait_s=0, queue_size=32, batch_sizes=(1, 2)
        )
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        with pytest.raises(GroupTooLargeError, match="3 crops exceed the backend's largest batch \\(2\\)"):
            await batcher.submit(groups_of([3]), deadline)
        await batcher.close()

    asyncio.run(scenario())


def test_group_larger_than_max_batch_runs_alone() -> None:
    network = RecordingNetwork()

    async def scenario() -> None:
        batcher = make_batcher(network, max_batch=1)
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        await batcher.submit(groups_of([2, 2]), deadline)
        await batcher.close()

    asyncio.run(scenario())
    assert network.batch_sizes == [2, 2]


def test_expired_group_is_dropped_before_inference() -> None:
    network = RecordingNetwork()

    async def scenario() -> None:
        batcher = make_batcher(network, max_wait_s=0.1)
        batcher.start()
        already_late = asyncio.get_running_loop().time() - 1
        with pytest.raises(DeadlineExceededError):
            await batcher.submit(groups_of([2]), already_late)
        await batcher.close()

    asyncio.run(scenario())
    assert network.batch_sizes == []


def test_inference_failure_reaches_every_caller_and_the_worker_survives() -> None:
    network = RecordingNetwork(fail=True)

    async def scenario() -> np.ndarray:
        batcher = make_batcher(network)
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        failures = await asyncio.gather(
            *(batcher.submit(groups_of([1]), deadline) for _ in range(2)), return_exceptions=True
        )
        assert all(isinstance(f, InferenceError) and "device lost" in str(f) for f in failures)
        network.fail = False
        result = await batcher.submit(groups_of([1]), deadline)
        await batcher.close()
        return result[0].output

    assert asyncio.run(scenario()).shape == (1,)


def test_full_queue_refuses_the_whole_request() -> None:
    network = RecordingNetwork()

    async def scenario() -> None:
        batcher = make_batcher(network, queue_size=4, max_batch=8, max_wait_s=0.3)
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        waiting = asyncio.ensure_future(batcher.submit(groups_of([2, 1]), deadline))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFullError, match="3 of 4 crops waiting"):
            await batcher.submit(groups_of([2]), deadline)
        assert batcher.queued_crops == 3
        await waiting
        await batcher.close()

    asyncio.run(scenario())
    assert network.batch_sizes == [3]


def test_reservations_hold_room_until_submitted_or_released() -> None:
    network = RecordingNetwork()

    async def scenario() -> None:
        batcher = make_batcher(network, queue_size=4, max_batch=8, max_wait_s=0.1)
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        first = batcher.reserve(2)
        second = batcher.reserve(2)
        with pytest.raises(QueueFullError, match="4 of 4 crops waiting or reserved"):
            batcher.reserve(1)  # refused before any work: nothing is queued yet
        with pytest.raises(QueueFullError):
            await batcher.submit(groups_of([1]), deadline)  # a request without a reservation too
        batcher.release(second)
        batcher.release(second)  # twice is harmless
        results = await batcher.submit(groups_of([2]), deadline, reservation=first)
        assert len(results[0].output) == 2 and not first.held
        third = batcher.reserve(4)  # all room is free again
        batcher.release(third)
        await batcher.close()
        with pytest.raises(BatcherClosedError):
            batcher.reserve(1)

    asyncio.run(scenario())
    assert network.batch_sizes == [2]


def test_close_finishes_queued_work_then_refuses_new_work() -> None:
    network = RecordingNetwork()

    async def scenario() -> None:
        batcher = make_batcher(network, max_wait_s=5.0, max_batch=16)
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        pending = asyncio.ensure_future(batcher.submit(groups_of([2]), deadline))
        await asyncio.sleep(0.05)
        await batcher.close()
        assert len((await pending)[0].output) == 2
        with pytest.raises(BatcherClosedError):
            await batcher.submit(groups_of([1]), deadline)

    asyncio.run(scenario())
    assert network.batch_sizes == [2]


class GatedNetwork(RecordingNetwork):
    """Holds its first batch until released, so that requests can arrive while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if not self.running.is_set():
            self.running.set()
            self.release.wait(10)
        return super().__call__(batch)


def test_without_a_wait_the_requests_arriving_during_inference_form_the_next_batch() -> None:
    """max_wait 0 (the default): batches still form under load, from what queues while inference runs."""
    network = GatedNetwork()

    async def scenario() -> list[int]:
        batcher = DynamicBatcher(network, max_batch=8, max_wait_s=0.0, queue_size=32)
        batcher.start()
        deadline = asyncio.get_running_loop().time() + 10
        first = asyncio.ensure_future(batcher.submit(groups_of([2], 0), deadline))
        await asyncio.to_thread(network.running.wait, 10)
        later = [asyncio.ensure_future(batcher.submit(groups_of([2], s), deadline)) for s in (1, 2, 3)]
        await asyncio.sleep(0.05)  # the three are queued behind the running batch
        network.release.set()
        results = [await task for task in (first, *later)]
        await batcher.close()
        return [result[0].batch_size for result in results]

    assert asyncio.run(scenario()) == [2, 6, 6, 6]
    assert network.batch_sizes == [2, 6]
