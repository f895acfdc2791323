"""render=png requests are admitted apart: at most max_concurrent_renders of them are past admission at once,
from before decoding until their PNG is made, while other requests go on."""

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import MPII_IMAGES

from runtime.backends import Backend, create_backend
from runtime.engine import PoseRuntime
from runtime.options import RuntimeOptions
from runtime.pipeline.regions import PersonSpec

pytestmark = pytest.mark.slow

IMAGE = (MPII_IMAGES / "005808361.jpg").read_bytes()
PERSON = [PersonSpec(box=(700.0, 120.0, 1100.0, 600.0))]
SETTLE_S = 0.5  # time a request that is not held back needs to reach the queue


class GatedBackend:
    """The real backend, whose first inference waits until the test opens the gate."""

    def __init__(self, backend: Backend, entered: threading.Event, gate: threading.Event) -> None:
        self.backend, self.entered, self.gate = backend, entered, gate
        self.name, self.batch_sizes, self.devices = backend.name, backend.batch_sizes, backend.devices

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.entered.set()
        self.gate.wait(timeout=60)
        return self.backend.infer(batch)

    def close(self) -> None:
        self.backend.close()


def test_a_render_waits_for_a_render_slot_while_a_json_request_goes_ahead(tiny_model_repo: Path) -> None:
    entered, gate = threading.Event(), threading.Event()
    batches: list[int] = []
    options = RuntimeOptions(model_repo=tiny_model_repo, backend="onnxruntime", max_concurrent_renders=1)

    def gated(name: str, path: Path, runtime_options: RuntimeOptions) -> Backend:
        return GatedBackend(create_backend(name, path, runtime_options), entered, gate)

    def observer(_: str):
        return lambda size, seconds, padded: batches.append(size)

    async def scenario() -> None:
        runtime = PoseRuntime(options, gated, observer)
        await runtime.start()
        batches.clear()  # the warm-up's
        entered.clear()
        try:
            with runtime.lease(None, None) as model:
                deadline = runtime.deadline()
                arguments = (model, IMAGE, PERSON, True, deadline)
                first = asyncio.create_task(runtime.estimate_and_render(*arguments))
                await asyncio.to_thread(entered.wait, 30)  # the first render is in inference
                second = asyncio.create_task(runtime.estimate_and_render(*arguments))
                plain = asyncio.create_task(runtime.estimate(*arguments))
                while model.batcher.queued_crops < 2:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(SETTLE_S)
                assert model.batcher.queued_crops == 2, "only the JSON request's crop pair waits"
                gate.set()
                (_, drawn), (_, drawn_again), _ = await asyncio.gather(first, second, plain)
            assert drawn.png == drawn_again.png and drawn.scale == 1.0
            assert batches == [2, 2, 2], "the first render, the JSON request, then the second render"
        finally:
            gate.set()
            await runtime.close()

    asyncio.run(scenario())
