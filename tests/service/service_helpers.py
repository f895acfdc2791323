"""Helpers for the service tests: test images, an oracle that computes the expected keypoints without
any service code, and a reader for /v1/pose responses."""

import importlib.util
import io
import re
import shutil
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
from helpers import REPO_ROOT, ServedApp, app_in_thread
from PIL import Image

from core.codec import DecodedKeypoints, HeatmapCodec
from core.geometry import crop_image
from core.model_repo import ONNX_FILE, read_metadata
from runtime.backends import create_backend
from runtime.backends.base import Backend
from runtime.options import RuntimeOptions
from service.app import create_app
from service.server import server_options
from service.settings import Settings


def serve_app(settings: Settings, backend_factory: Any = None) -> AbstractContextManager[ServedApp]:
    """create_app(settings) under uvicorn in a thread on a free port, configured as `python -m service`."""
    app = create_app(settings, backend_factory=backend_factory)
    return app_in_thread(app, log_config=None, access_log=False, **server_options(settings))


SHIPPED_DETECTOR = REPO_ROOT / "model_repo" / "person_detector" / "1"


def repo_with_detector(model_repo: Path, root: Path) -> Path:
    """A copy of `model_repo` at `root` with the shipped person detector beside its models."""
    shutil.copytree(model_repo, root)
    shutil.copytree(SHIPPED_DETECTOR, root / "person_detector" / "1")
    return root


class SlowCountingBackends:
    """A backend factory: the real backends, each call slowed by `delay_s`, and a count of the calls."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, name: str, path: Path, options: RuntimeOptions) -> Backend:
        backend = create_backend(name, path, options)
        factory = self

        class Slow:
            name = backend.name
            batch_sizes = backend.batch_sizes
            devices = backend.devices

            def infer(self, batch: np.ndarray) -> np.ndarray:
                time.sleep(factory.delay_s)
                with factory._lock:
                    factory.calls += 1
                return backend.infer(batch)

            def close(self) -> None:
                backend.close()

        return Slow()


LITE_DOUBLE_DIR = Path(__file__).resolve().parent / "lite_api_double"  # on PYTHONPATH: the Lite double


def load_lite_double() -> ModuleType:
    """The TEST DOUBLE of mindspore_lite (tests/service/lite_api_double), loaded under that package name."""
    spec = importlib.util.spec_from_file_location(
        "mindspore_lite", LITE_DOUBLE_DIR / "mindspore_lite" / "__init__.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def encode_image(pixels: np.ndarray, fmt: str = "JPEG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def random_image(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random colour blobs: varied content that survives lossless formats exactly."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR))


def decoded_pixels(data: bytes) -> np.ndarray:
    """The RGB pixels a client expects the service to see (no EXIF handling: tests pass upright images)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def oracle_keypoints(
    model_dir: Path, image: np.ndarray, centers: np.ndarray, scales: np.ndarray, flip: bool = True
) -> DecodedKeypoints:
    """Expected keypoints: core crop (float32, /255), the ONNX network run directly, core decoder."""
    metadata = read_metadata(model_dir)
    size = metadata.input.height
    session = ort.InferenceSession(str(model_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    pixels = image.astype(np.float32)
    crops = np.stack([crop_image(pixels, c, s, size) / 255.0 for c, s in zip(centers, scales, strict=True)])
    crops = crops.astype(np.float32)
    heatmaps = session.run(None, {input_name: crops})[0][:, -1]
    flipped = None
    if flip:
        flipped = session.run(None, {input_name: np.ascontiguousarray(crops[:, :, ::-1])})[0][:, -1]
    codec = HeatmapCodec(input_size=size, heatmap_size=metadata.output.heatmap_height)
    centers, scales = np.asarray(centers, float), np.asarray(scales, float)
    return codec.decode(heatmaps, centers, scales, flipped_heatmaps=flipped)


def response_keypoints(body: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 16, 2) coordinates and (N, 16) scores from a /v1/pose response."""
    xy = np.array([[[k["x"], k["y"]] for k in person["keypoints"]] for person in body["persons"]])
    scores = np.array([[k["score"] for k in person["keypoints"]] for person in body["persons"]])
    return xy, scores


def wait_for_queued_crops(url: str, crops: int, model: str = "tiny:1", timeout_s: float = 10.0) -> None:
    """Poll /metrics until `crops` crops wait in the model's batch queue (the service got the requests)."""
    pattern = re.compile(rf'hgpose_queued_crops\{{model="{re.escape(model)}"\}} (\S+)')
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = pattern.search(httpx.get(f"{url}/metrics", timeout=5).text)
        if match and float(match.group(1)) == crops:
            return
        time.sleep(0.05)
    raise AssertionError(f"{crops} crops never waited in the queue of {model}")


def padded_crops_of(url: str, model: str) -> float:
    """hgpose_padded_crops_total of `model` ("name:version") from the service's /metrics (0 before any)."""
    pattern = r"hgpose_padded_crops_total\{model=\"" + re.escape(model) + r"\"\} (\S+)"
    found = re.search(pattern, httpx.get(f"{url}/metrics").text)
    return float(found.group(1)) if found else 0.0
