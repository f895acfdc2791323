"""The shipped person detector (model_repo/person_detector/1) on real photographs, run by onnxruntime through
core's codec: its files are what the metadata says, and it finds the people in the five MPII sample images
and in scikit-image's two photographs of a person, with no false detection.

Who is there: the persons MPII annotates, boxed by their annotated joints (head top to ankles:
core.mpii.MpiiAnnotations.joint_boxes), and the people it does not annotate, boxed by hand
(tests/fixtures/person_boxes.json). MPII's centre and scale describe a square about 1.25 times the person's
height, so its IoU with a person's tall box stays near 0.2 even for a perfect detection: the joints' box is
the sound one to match against. It is smaller than the whole person (feet, hands, hair), so an IoU >= 0.5
with it is, if anything, strict.
"""

import json
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from helpers import FIXTURES, MPII_ANNOTATIONS, MPII_IMAGES, REPO_ROOT
from skimage import data

from core.box_metrics import MatchCount, count_matches
from core.detection import Detections, DetectorCodec
from core.model_repo import ONNX_FILE, read_detector_metadata, verify_file
from core.mpii import MPII_SAMPLE_PERSONS, read_annotations

VERSION_DIR = REPO_ROOT / "model_repo" / "person_detector" / "1"
# The acceptance bar counts people at least this tall.
MIN_HEIGHT = 90.0
Detector = Callable[[np.ndarray], Detections]


@pytest.fixture(scope="module")
def detect() -> Detector:
    metadata = read_detector_metadata(VERSION_DIR)
    codec = DetectorCodec.from_metadata(metadata)
    session = ort.InferenceSession(str(VERSION_DIR / ONNX_FILE), providers=["CPUExecutionProvider"])

    def run(rgb: np.ndarray) -> Detections:
        tensor, transform = codec.preprocess(rgb)
        return codec.decode(session.run(None, {metadata.input.name: tensor})[0], transform)

    return run


def boxed(table: dict[str, list[list[float]]], name: str) -> np.ndarray:
    return np.asarray(table.get(name, []), dtype=np.float64).reshape(-1, 4)


def mpii_photos() -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    more = json.loads((FIXTURES / "person_boxes.json").read_text())["mpii_sample"]
    annotations = read_annotations(MPII_ANNOTATIONS).subset(MPII_SAMPLE_PERSONS)
    for name, joints_box in zip(annotations.imgname, annotations.joint_boxes(), strict=True):
        rgb = cv2.cvtColor(cv2.imread(str(MPII_IMAGES / name)), cv2.COLOR_BGR2RGB)
        persons = np.concatenate([joints_box[None], boxed(more["persons"], name)])
        yield name, rgb, persons, boxed(more["ignore"], name)


def test_the_shipped_files_are_the_upstream_ones() -> None:
    metadata = read_detector_metadata(VERSION_DIR)
    verify_file(VERSION_DIR, metadata, ONNX_FILE)
    assert metadata.files[ONNX_FILE].sha256 == metadata.provenance["source"]["sha256"]
    assert metadata.class_names[metadata.person_class] == "person" and len(metadata.class_names) == 80
    licence = (VERSION_DIR.parent / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence and "Megvii" in licence


def test_the_graph_takes_and_gives_what_the_metadata_says() -> None:
    metadata = read_detector_metadata(VERSION_DIR)
    session = ort.InferenceSession(str(VERSION_DIR / ONNX_FILE), providers=["CPUExecutionProvider"])
    (graph_input,), (graph_output,) = session.get_inputs(), session.get_outputs()
    assert graph_input.name == metadata.input.name
    assert graph_input.shape == [1, 3, metadata.input.height, metadata.input.width]
    anchors = DetectorCodec.from_metadata(metadata).anchors
    assert graph_output.name == metadata.output.name
    assert graph_output.shape == [1, anchors, 5 + metadata.output.num_classes]


def test_everyone_in_the_mpii_sample_images_is_found_and_nothing_else(detect: Detector) -> None:
    total = MatchCount()
    for name, rgb, persons, ignore in mpii_photos():
        count = count_matches(detect(rgb).boxes, persons, ignore, MIN_HEIGHT)
        assert count.found == count.persons, f"{name}: {count}"
        total = total + count
    # 5 annotated persons and 2 that MPII leaves out; the one cut off by the frame edge is found too, and
    # ignored, so 8 detections.
    assert total == MatchCount(persons=7, found=7, detections=8, false=0)


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_the_person_in_a_scikit_image_photograph_is_found(detect: Detector, name: str) -> None:
    image = getattr(data, name)()
    rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    persons = boxed(json.loads((FIXTURES / "person_boxes.json").read_text())["skimage"]["persons"], name)
    found = detect(rgb)
    assert count_matches(found.boxes, persons, min_height=MIN_HEIGHT) == MatchCount(1, 1, 1, 0)
    assert found.scores[0] > 0.8
