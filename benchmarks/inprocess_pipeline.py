"""What one /v1/pose request does, in process and without the service: the fair baseline of
service_latency.py.

decode the JPEG -> the person's region -> its crop and the flip copy -> inference -> keypoint decoding,
with the runtime's own functions (runtime.pipeline, core's codec) and the version's backend object. For
throughput it is given the best threading found among a few arrangements (`best_throughput`):

- `serial xT`: T threads, each running whole requests one after another (the backend's calls overlap);
- `staged D+1`: D threads decode and crop, one inference thread takes up to `batch` persons that are ready
  (as the service's batcher does), runs them in one call and decodes their keypoints.
"""

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.codec import DecodedKeypoints, HeatmapCodec
from core.model_repo import ModelMetadata, read_metadata
from runtime.backends import Backend, create_backend
from runtime.options import RuntimeOptions
from runtime.pipeline.images import decode_image
from runtime.pipeline.regions import PersonRegion, crop_person, person_groups, region_from_center


@dataclass(frozen=True)
class Prepared:
    group: np.ndarray  # the crop and its mirror
    region: PersonRegion


@dataclass
class InProcessPipeline:
    backend: Backend
    metadata: ModelMetadata
    codec: HeatmapCodec
    options: RuntimeOptions
    image: bytes
    center: tuple[float, float]
    scale: float

    @classmethod
    def load(
        cls, options: RuntimeOptions, backend_name: str, version_dir: Path, image: bytes, person: dict
    ) -> "InProcessPipeline":
        metadata = read_metadata(version_dir)
        backend = create_backend(backend_name, version_dir, options)
        pipeline = cls(
            backend, metadata, HeatmapCodec.from_metadata(metadata), options, image, tuple(person["center"]),
            person["scale"],
        )  # fmt: skip
        for _ in range(3):
            pipeline.request()
        return pipeline

    def prepare(self) -> Prepared:
        decoded = decode_image(self.image, self.options.max_image_pixels)
        region = region_from_center(self.center, self.scale, decoded.width, decoded.height)
        spec = self.metadata.input
        crops = crop_person(decoded, region, spec.height, spec.pixel_scale)[None]
        return Prepared(person_groups(crops, flip=True)[0], region)

    def finish(self, outputs: np.ndarray, prepared: list[Prepared]) -> DecodedKeypoints:
        """Keypoints of each prepared person from the network's output for their groups, in order."""
        last = outputs[:, -1].reshape(len(prepared), 2, *outputs.shape[2:])
        centers = np.stack([p.region.center for p in prepared])
        scales = np.array([p.region.scale for p in prepared])
        return self.codec.decode(last[:, 0], centers, scales, flipped_heatmaps=last[:, 1])

    def request(self) -> DecodedKeypoints:
        prepared = self.prepare()
        return self.finish(self.backend.infer(prepared.group), [prepared])

    def latency(self, count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            self.request()
            times.append(time.perf_counter() - started)
        return times

    def serial_rate(self, threads: int, seconds: float) -> float:
        """Requests per second of `threads` threads each running whole requests."""
        return _rate(threads, seconds, lambda stop, count: _loop(self.request, stop, count))

    def staged_rate(self, decoders: int, batch: int, seconds: float) -> float:
        """Requests per second with `decoders` threads preparing and one thread inferring and decoding."""
        ready: queue.Queue[Prepared] = queue.Queue(maxsize=2 * batch)
        stop = threading.Event()
        done = [0]

        def prepare_loop() -> None:
            while not stop.is_set():
                prepared = self.prepare()
                while not stop.is_set():
                    try:
                        ready.put(prepared, timeout=0.05)
                        break
                    except queue.Full:
                        continue

        def infer_loop() -> None:
            while not stop.is_set():
                try:
                    taken = [ready.get(timeout=0.05)]
                except queue.Empty:
                    continue
                while len(taken) < batch:
                    try:
                        taken.append(ready.get_nowait())
                    except queue.Empty:
                        break
                outputs = self.backend.infer(np.concatenate([p.group for p in taken]))
                self.finish(outputs, taken)
                done[0] += len(taken)

        workers = [threading.Thread(target=prepare_loop) for _ in range(decoders)]
        workers.append(threading.Thread(target=infer_loop))
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        time.sleep(seconds)
        stop.set()
        for worker in workers:  # the batch in flight finishes and counts, as a serial thread's last request
            worker.join()
        return done[0] / (time.perf_counter() - started)

    def arrangements(self, batch: int) -> dict[str, Callable[[float], float]]:
        """Each threading arrangement tried, by name: seconds -> requests per second."""
        return {
            **{f"serial x{t}": (lambda s, t=t: self.serial_rate(t, s)) for t in (1, 2, 4)},
            **{f"staged {d}+1": (lambda s, d=d: self.staged_rate(d, batch, s)) for d in (1, 2)},
        }

    def best_throughput(self, batch: int, seconds: float) -> tuple[str, dict[str, float]]:
        """The fastest arrangement's name and every arrangement's requests per second."""
        group = self.prepare().group
        for persons in range(1, batch + 1):  # every batch the staged arrangement may form, run once first
            self.backend.infer(np.concatenate([group] * persons))
        rates = {name: measure(seconds) for name, measure in self.arrangements(batch).items()}
        return max(rates, key=rates.__getitem__), rates


def _loop(work: Callable[[], object], stop: float, count: list[int]) -> None:
    while time.perf_counter() < stop:
        work()
        count[0] += 1


def _rate(threads: int, seconds: float, body: Callable[[float, list[int]], None]) -> float:
    counts = [[0] for _ in range(threads)]
    started = time.perf_counter()
    stop = started + seconds
    workers = [threading.Thread(target=body, args=(stop, counts[i])) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(c[0] for c in counts) / (time.perf_counter() - started)
