"""Dynamic batching: crops of concurrent requests run through the backend together.

Each request submits one group per person (its crop, plus the mirrored copy when flip is on); a group is
never split, so a crop and its flip copy always share a batch. One worker task per model waits until
`max_batch` crops are queued or the oldest has waited `max_wait`, then runs the batch on a dedicated
inference thread, off the event loop. The queue is bounded (QueueFullError, a 503) and every group carries
its request's deadline: groups past it are dropped before inference (DeadlineExceededError, a 504).

A request reserves its crops' room in the queue before it decodes its image (`reserve`), so a full queue
refuses it before it costs any work; `submit` turns the reservation into queued groups.

A backend that takes only some batch sizes (Lite's gears on Ascend) gives them as `batch_sizes`: batches
then hold at most the largest, each is padded with zero crops up to the smallest size that holds it, and
the padded rows are dropped from the output before any caller sees them.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from runtime.errors import (
    BatcherClosedError,
    DeadlineExceededError,
    GroupTooLargeError,
    InferenceError,
    QueueFullError,
)
from runtime.gears import smallest_gear

logger = logging.getLogger(__name__)

InferFn = Callable[[np.ndarray], np.ndarray]
BatchObserver = Callable[[int, float, int], None]
"""Called after each batch with its real crops, compute seconds and padded (zero) crops."""


@dataclass(frozen=True)
class BatchResult:
    """One group's output rows and how its batch went."""

    output: np.ndarray
    queue_wait_s: float
    compute_s: float
    batch_size: int


@dataclass(eq=False)
class Reservation:
    """Room held in the queue for one request's crops until it submits them or gives up."""

    crops: int
    held: bool = True


@dataclass(eq=False)
class _Group:
    crops: np.ndarray
    future: "asyncio.Future[BatchResult]"
    enqueued_at: float
    deadline: float


class DynamicBatcher:
    def __init__(
        self,
        infer: InferFn,
        *,
        max_batch: int,
        max_wait_s: float,
        queue_size: int,
        name: str = "model",
        on_batch: BatchObserver | None = None,
        batch_sizes: Sequence[int] | None = None,
    ) -> None:
        self._infer = infer
        self.batch_sizes = tuple(sorted(batch_sizes)) if batch_sizes else None
        self.max_batch = min(max_batch, self.batch_sizes[-1]) if self.batch_sizes else max_batch
        self.max_wait_s = max_wait_s
        self.queue_size = queue_size
        self._on_batch = on_batch
        self._pending: deque[_Group] = deque()
        self._queued_crops = 0
        self._reserved_crops = 0
        self._arrived = asyncio.Event()
        self._closed = False
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"infer-{name}")

    @property
    def queued_crops(self) -> int:
        return self._queued_crops

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())

    def reserve(self, crops: int) -> Reservation:
        """Hold room for `crops` crops; QueueFullError (or BatcherClosedError) when there is none.

        Every reservation is either passed to `submit` or given back with `release`.
        """
        if self._closed:
            raise BatcherClosedError("the service is shutting down")
        self._check_room(crops)
        self._reserved_crops += crops
        return Reservation(crops)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation's room (again: no effect)."""
        if reservation.held:
            reservation.held = False
            self._reserved_crops -= reservation.crops

    def _check_room(self, crops: int) -> None:
        waiting = self._queued_crops + self._reserved_crops
        if waiting + crops > self.queue_size:
            raise QueueFullError(
                f"the inference queue is full ({waiting} of {self.queue_size} crops waiting or reserved)"
            )

    async def submit(
        self, groups: Sequence[np.ndarray], deadline: float, reservation: Reservation | None = None
    ) -> list[BatchResult]:
        """Queue the groups of one request (all or none), in the room `reservation` holds if given, and wait
        for their outputs.

        `deadline` is on the event loop's clock. Raises QueueFullError, DeadlineExceededError,
        BatcherClosedError, GroupTooLargeError or InferenceError.
        """
        if reservation is not None:
            self.release(reservation)  # its room is taken below, with no await in between
        if self._closed:
            raise BatcherClosedError("the service is shutting down")
        largest = max((len(group) for group in groups), default=0)
        if self.batch_sizes and largest > self.batch_sizes[-1]:
            raise GroupTooLargeError(
                f"a person's {largest} crops exceed the backend's largest batch ({self.batch_sizes[-1]})"
            )
        crops = sum(len(group) for group in groups)
        self._check_room(crops)
        loop = asyncio.get_running_loop()
        now = loop.time()
        queued = [_Group(group, loop.create_future(), now, deadline) for group in groups]
        self._pending.extend(queued)
        self._queued_crops += crops
        self._arrived.set()
        try:
            return list(await asyncio.gather(*(group.future for group in queued)))
        finally:
            self._discard(queued)

    def _discard(self, abandoned: list[_Group]) -> None:
        """Take a finished, failed or cancelled request's groups that are still queued out of the queue."""
        for group in abandoned:
            group.future.cancel()
            if group in self._pending:
                self._pending.remove(group)
                self._queued_crops -= len(group.crops)

    async def close(self) -> None:
        """Take no new work, finish what is queued, stop the inference thread."""
        self._closed = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        while not (self._closed and not self._pending):
            await self._wait_for_batch()
            batch = self._take_batch()
            if batch:
                await self._execute(batch)

    async def _wait_for_batch(self) -> None:
        """Wait for a first group, then up to max_wait after it for the batch to fill."""
        loop = asyncio.get_running_loop()
        while not self._pending and not self._closed:
            self._arrived.clear()
            await self._arrived.wait()
        if not self._pending:
            return
        fill_by = self._pending[0].enqueued_at + self.max_wait_s
        while self._queued_crops < self.max_batch and not self._closed:
            remaining = fill_by - loop.time()
            if remaining <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    def _take_batch(self) -> list[_Group]:
        """Pop whole groups up to max_batch crops; drop abandoned groups and fail expired ones."""
        now = asyncio.get_running_loop().time()
        batch: list[_Group] = []
        size = 0
        while self._pending:
            group = self._pending[0]
            count = len(group.crops)
            if batch and size + count > self.max_batch:
                break
            self._pending.popleft()
            self._queued_crops -= count
            if group.future.done():
                continue
            if now > group.deadline:
                group.future.set_exception(DeadlineExceededError("the request deadline passed in the queue"))
                continue
            batch.append(group)
            size += count
            if size >= self.max_batch:
                break
        return batch

    async def _execute(self, batch: list[_Group]) -> None:
        loop = asyncio.get_running_loop()
        inputs = batch[0].crops if len(batch) == 1 else np.concatenate([group.crops for group in batch])
        size = len(inputs)
        padded = smallest_gear(size, self.batch_sizes) - size if self.batch_sizes else 0
        if padded:
            inputs = np.concatenate([inputs, np.zeros((padded, *inputs.shape[1:]), dtype=inputs.dtype)])
        started = loop.time()
        try:
            outputs = await loop.run_in_executor(self._executor, self._infer, inputs)
            if len(outputs) != len(inputs):
                raise InferenceError(f"the backend returned {len(outputs)} rows for {len(inputs)} crops")
            outputs = outputs[:size]
        except Exception as error:
            logger.exception("inference failed on a batch of %d crops", len(inputs))
            for group in batch:
                if not group.future.done():
                    group.future.set_exception(InferenceError(f"inference failed: {error}"))
            return
        compute = loop.time() - started
        if self._on_batch is not None:
            self._on_batch(size, compute, padded)
        offset = 0
        for group in batch:
            count = len(group.crops)
            if not group.future.done():
                group.future.set_result(
                    BatchResult(outputs[offset : offset + count], started - group.enqueued_at, compute, size)
                )
            offset += count
