"""The detector codec: preprocessing (letterbox, stretch, colour, normalisation, layout) and decoding of a
YOLOX head and of suppressed rows, on hand-built inputs whose right answer follows from the format."""

import math

import numpy as np
import pytest

from core.detection import DetectorCodec, InputTransform, anchor_grid, class_aware_nms, resize_to_input
from core.model_repo import (
    CENTER,
    INPUT_NORMALIZED,
    NHWC,
    STRETCH,
    SUPPRESSED,
    UINT8,
    YOLOX_HEAD,
    DetectorInputSpec,
    DetectorOutputSpec,
)

CLASSES = 3
PERSON = 0
CHAIR = 2
STRIDES = (8, 16, 32)
IDENTITY_64 = InputTransform(scale=(1.0, 1.0), offset=(0.0, 0.0), image_size=(64, 64))


def yolox_codec(size: int = 64) -> DetectorCodec:
    return DetectorCodec(
        DetectorInputSpec(size, size, color="BGR", pad_value=114.0),
        DetectorOutputSpec(YOLOX_HEAD, CLASSES, STRIDES),
        PERSON,
    )


def anchor_index(size: int, stride: int, x: int, y: int) -> int:
    """Where cell (x, y) of `stride`'s grid lies among a head's rows: strides in order, grids row-major."""
    before = sum((size // s) ** 2 for s in STRIDES if s < stride)
    return before + y * (size // stride) + x


def head(size: int = 64) -> np.ndarray:
    anchors = sum((size // s) ** 2 for s in STRIDES)
    return np.zeros((1, anchors, 5 + CLASSES), dtype=np.float32)


Box = tuple[float, float, float, float]


def put(rows: np.ndarray, index: int, box: Box, objectness: float, **scores: float) -> None:
    """Row `index` of a head: offsets, log extents, objectness and class scores by name (person, chair)."""
    rows[0, index, :4] = box
    rows[0, index, 4] = objectness
    for name, score in scores.items():
        rows[0, index, 5 + {"person": PERSON, "chair": CHAIR}[name]] = score


def test_anchor_grid_runs_stride_by_stride_and_row_major() -> None:
    cells, strides = anchor_grid(64, 32, (8, 16))
    assert len(cells) == 8 * 4 + 4 * 2
    assert cells[:5].tolist() == [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1]]
    assert strides[31] == 8 and strides[32] == 16
    assert cells[32 + 2 * 2 + 1].tolist() == [1, 2]


def test_a_yolox_anchor_decodes_to_its_cell_stride_and_extent() -> None:
    rows = head()
    # stride 16, cell (2, 1): centre ((0.5 + 2) * 16, (0.25 + 1) * 16) = (40, 20); extent (2 * 16, 3 * 16)
    put(rows, anchor_index(64, 16, 2, 1), (0.5, 0.25, math.log(2), math.log(3)), 0.9, person=0.8)
    found = yolox_codec().decode(rows, IDENTITY_64)
    assert len(found) == 1
    # y1 = 20 - 24 = -4 is clipped to the image
    np.testing.assert_allclose(found.boxes[0], [24, 0, 56, 44], atol=1e-4)
    assert found.scores[0] == pytest.approx(0.72)
    assert found.classes.tolist() == [PERSON]


def test_decoded_boxes_go_back_through_the_transform() -> None:
    rows = head()
    put(rows, anchor_index(64, 8, 3, 4), (0.0, 0.0, 0.0, 0.0), 1.0, person=1.0)  # input box (20, 28, 28, 36)
    transform = InputTransform(scale=(0.25, 0.5), offset=(4.0, 0.0), image_size=(200, 200))
    found = yolox_codec().decode(rows, transform)
    np.testing.assert_allclose(found.boxes[0], [64, 56, 96, 72], atol=1e-4)


def test_score_is_objectness_times_class_score_against_the_threshold() -> None:
    rows = head()
    put(rows, anchor_index(64, 32, 0, 0), (0.5, 0.5, 0.0, 0.0), 0.5, person=0.58)  # 0.29
    put(rows, anchor_index(64, 32, 1, 1), (0.5, 0.5, 0.0, 0.0), 0.5, person=0.62)  # 0.31
    found = yolox_codec().decode(rows, IDENTITY_64, score_threshold=0.3)
    assert found.scores.tolist() == pytest.approx([0.31])
    np.testing.assert_allclose(found.boxes[0], [32, 32, 64, 64], atol=1e-4)


def test_only_the_person_class_by_default_and_classes_on_request() -> None:
    rows = head()
    put(rows, anchor_index(64, 16, 1, 1), (0.5, 0.5, 0.0, 0.0), 1.0, person=0.5, chair=0.9)
    codec = yolox_codec()
    assert yolox_codec().decode(rows, IDENTITY_64).classes.tolist() == [PERSON]
    both = codec.decode(rows, IDENTITY_64, classes=(PERSON, CHAIR))
    # The same box as a chair and as a person: different classes never suppress each other.
    assert both.classes.tolist() == [CHAIR, PERSON]
    np.testing.assert_allclose(both.boxes[0], both.boxes[1])
    with pytest.raises(ValueError, match="classes"):
        codec.decode(rows, IDENTITY_64, classes=(CLASSES,))


def test_nms_keeps_the_best_of_overlapping_boxes_of_one_class() -> None:
    rows = head()
    put(rows, anchor_index(64, 8, 2, 2), (0.5, 0.5, math.log(2), math.log(2)), 1.0, person=0.9)
    put(rows, anchor_index(64, 8, 3, 2), (0.0, 0.5, math.log(2), math.log(2)), 1.0, person=0.8)  # 4 px right
    put(rows, anchor_index(64, 8, 6, 6), (0.5, 0.5, 0.0, 0.0), 1.0, person=0.7)  # far away
    found = yolox_codec().decode(rows, IDENTITY_64, iou_threshold=0.45)
    assert found.scores.tolist() == pytest.approx([0.9, 0.7])


def test_class_aware_nms_directly() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=np.float64)
    scores = np.array([0.6, 0.9, 0.8, 0.5])
    classes = np.array([0, 0, 1, 0])
    assert class_aware_nms(boxes, scores, classes, 0.5, 10).tolist() == [1, 2, 3]
    assert class_aware_nms(boxes, scores, classes, 0.5, 2).tolist() == [1, 2]
    assert class_aware_nms(boxes[:0], scores[:0], classes[:0], 0.5, 10).tolist() == []


def test_minimum_size_and_maximum_count() -> None:
    rows = head()
    put(rows, anchor_index(64, 8, 1, 1), (0.5, 0.5, 0.0, 0.0), 1.0, person=0.9)  # 8 x 8
    put(rows, anchor_index(64, 32, 1, 1), (0.5, 0.5, 0.0, 0.0), 1.0, person=0.6)  # 32 x 32
    put(rows, anchor_index(64, 32, 0, 0), (0.5, 0.5, 0.0, 0.0), 1.0, person=0.5)  # 32 x 32
    codec = yolox_codec()
    assert codec.decode(rows, IDENTITY_64, min_size=10).scores.tolist() == pytest.approx([0.6, 0.5])
    assert codec.decode(rows, IDENTITY_64, max_detections=2).scores.tolist() == pytest.approx([0.9, 0.6])


def test_a_head_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="YOLOX head"):
        yolox_codec().decode(head()[:, :-1], IDENTITY_64)


def test_suppressed_rows_in_normalised_coordinates() -> None:
    codec = DetectorCodec(
        DetectorInputSpec(100, 200, layout=NHWC, dtype=UINT8, resize=STRETCH),
        DetectorOutputSpec(SUPPRESSED, CLASSES, coordinates=INPUT_NORMALIZED),
        PERSON,
    )
    rows = np.array(
        [
            [
                [0.1, 0.2, 0.3, 0.6, 0.9, PERSON],
                [0.5, 0.5, 0.9, 0.9, 0.8, CHAIR],
                [0.0, 0.0, 0.5, 0.5, 0.2, PERSON],
                [0.0, 0.0, 0.0, 0.0, 0.0, PERSON],  # padding
            ]
        ],
        dtype=np.float32,
    )
    image = np.zeros((50, 400, 3), np.uint8)
    _, transform = codec.preprocess(image)
    found = codec.decode(rows, transform, score_threshold=0.3)
    # input (20, 20, 60, 60) of a 200 x 100 input that stretches a 400 x 50 image
    np.testing.assert_allclose(found.boxes, [[40, 10, 120, 30]], atol=1e-4)
    assert found.classes.tolist() == [PERSON]
    with pytest.raises(ValueError, match="suppressed rows"):
        codec.decode(rows[..., :5], transform)


def test_letterbox_fits_the_long_side_and_pads_the_rest() -> None:
    image = np.full((100, 50, 3), 7, np.uint8)
    spec = DetectorInputSpec(64, 64, pad_value=114.0)
    canvas, transform = resize_to_input(image, spec)
    assert canvas.shape == (64, 64, 3)
    assert (canvas[:, :32] == 7).all() and (canvas[:, 32:] == 114).all()
    assert transform.scale == (0.64, 0.64) and transform.offset == (0.0, 0.0)
    centred, moved = resize_to_input(image, DetectorInputSpec(64, 64, pad_value=114.0, pad_position=CENTER))
    assert moved.offset == (16.0, 0.0)
    assert (centred[:, 16:48] == 7).all()
    assert (centred[:, :16] == 114).all() and (centred[:, 48:] == 114).all()


@pytest.mark.parametrize("pad_position", ["top_left", "center"])
@pytest.mark.parametrize("image_size", [(300, 200), (200, 300), (37, 411), (416, 416)])
def test_letterbox_round_trip(image_size: tuple[int, int], pad_position: str) -> None:
    image = np.zeros((*image_size, 3), np.uint8)
    _, transform = resize_to_input(image, DetectorInputSpec(416, 416, pad_position=pad_position))
    height, width = image_size
    boxes = np.array([[0, 0, width, height], [0.3 * width, 0.1 * height, 0.5 * width, 0.9 * height]])
    inside = transform.to_input(boxes)
    assert inside.min() >= 0 and inside[:, 2].max() <= 416 + 1e-9 and inside[:, 3].max() <= 416 + 1e-9
    assert max(inside[0, 2] - inside[0, 0], inside[0, 3] - inside[0, 1]) == pytest.approx(416)
    np.testing.assert_allclose(transform.to_image(inside), boxes, atol=1e-9)


def test_boxes_are_clipped_to_the_image() -> None:
    transform = InputTransform(scale=(2.0, 2.0), offset=(0.0, 0.0), image_size=(10, 20))
    np.testing.assert_allclose(transform.to_image(np.array([[-10, -10, 50, 50]])), [[0, 0, 20, 10]])


def test_preprocess_orders_channels_normalises_and_lays_out() -> None:
    image = np.empty((8, 8, 3), np.uint8)
    image[...] = (10, 20, 30)  # RGB
    bgr_raw = yolox_codec(32)
    tensor, _ = bgr_raw.preprocess(image)
    assert tensor.shape == (1, 3, 32, 32) and tensor.dtype == np.float32
    assert tensor[0, :, 0, 0].tolist() == [30, 20, 10]
    same, _ = bgr_raw.preprocess(image[..., ::-1].copy(), color="BGR")
    np.testing.assert_array_equal(same, tensor)
    normalised = DetectorCodec(
        DetectorInputSpec(32, 32, layout=NHWC, pixel_scale=0.1, mean=(1.0, 2.0, 3.0), std=(1.0, 2.0, 4.0)),
        DetectorOutputSpec(YOLOX_HEAD, CLASSES, STRIDES),
        PERSON,
    )
    tensor, _ = normalised.preprocess(image)
    assert tensor.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(tensor[0, 0, 0], [(1 - 1) / 1, (2 - 2) / 2, (3 - 3) / 4])
    np.testing.assert_allclose(tensor[0, 5, 5], tensor[0, 0, 0])
    uint8_spec = DetectorInputSpec(32, 32, layout=NHWC, dtype=UINT8, resize=STRETCH)
    raw = DetectorCodec(uint8_spec, DetectorOutputSpec(SUPPRESSED, 1), 0)
    tensor, _ = raw.preprocess(image)
    assert tensor.dtype == np.uint8 and tensor[0, 3, 3].tolist() == [10, 20, 30]


def test_preprocess_refuses_what_is_not_an_rgb_image() -> None:
    codec = yolox_codec()
    with pytest.raises(ValueError, match="uint8 image"):
        codec.preprocess(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8 image"):
        codec.preprocess(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="colour order"):
        codec.preprocess(np.zeros((8, 8, 3), np.uint8), color="GBR")
