"""The detector's input made from the decoded image without a full-size RGB copy matches core's own
preprocessing of the full-size image: same tensor (up to resampling), same mapping back to image pixels."""

import io

import numpy as np
import pytest
from helpers import MPII_IMAGES, REPO_ROOT
from PIL import Image

from core.detection import DetectorCodec
from core.model_repo import read_detector_metadata
from runtime.pipeline.detect import detector_input
from runtime.pipeline.images import decode_image

DETECTOR = REPO_ROOT / "model_repo" / "person_detector" / "1"
CODEC = DetectorCodec.from_metadata(read_detector_metadata(DETECTOR))


@pytest.mark.parametrize("size", [(1280, 720), (333, 1000), (4000, 3000), (416, 416)])
def test_detector_input_matches_core_preprocessing_of_the_full_image(size: tuple[int, int]) -> None:
    photo = Image.open(next(MPII_IMAGES.glob("*.jpg"))).convert("RGB").resize(size)
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    image = decode_image(buffer.getvalue(), max_pixels=20_000_000)
    made = detector_input(image, CODEC)
    full_tensor, full_transform = CODEC.preprocess(np.asarray(photo))
    assert made.tensor.shape == full_tensor.shape and made.tensor.dtype == full_tensor.dtype
    assert np.abs(made.tensor - full_tensor).mean() < 6.0  # of 0-255: resampling differs, the picture not
    boxes = np.array([[0.0, 0.0, 416.0, 416.0], [50.0, 60.0, 200.0, 300.0]])
    np.testing.assert_allclose(made.transform.to_image(boxes), full_transform.to_image(boxes), atol=1.0)
    assert made.transform.image_size == (size[1], size[0])
