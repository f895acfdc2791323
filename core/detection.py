"""A person detector's input and output around its metadata, as one codec object (mmpose style).

`DetectorCodec.preprocess` turns an image into the detector's input tensor and the transform back to the
image; `decode` turns the detector's output into boxes in image pixels: a raw YOLOX head (grids, strides,
exp of the log extents, objectness x class score) or rows the graph has already suppressed, then score,
class and size filters, class-aware NMS and a cap on the count. Coordinates are continuous pixels with the
image's top-left corner at (0, 0), as cv2.resize maps them; everything is vectorised over anchors.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.model_repo import (
    CENTER,
    COLORS,
    INPUT_NORMALIZED,
    LETTERBOX,
    NCHW,
    RGB,
    UINT8,
    YOLOX_HEAD,
    DetectorInputSpec,
    DetectorMetadata,
    DetectorOutputSpec,
)

# Columns of a raw YOLOX head row and of a suppressed row.
_YOLOX_BOX_COLUMNS = 4
_YOLOX_OBJECTNESS = 4
_YOLOX_FIRST_CLASS = 5
_SUPPRESSED_COLUMNS = 6
# exp() of a log extent above this would overflow float32; such a box spans any image anyway.
_MAX_LOG_EXTENT = 20.0

DEFAULT_SCORE_THRESHOLD = 0.3
DEFAULT_IOU_THRESHOLD = 0.45
DEFAULT_MAX_DETECTIONS = 100


@dataclass(frozen=True)
class InputTransform:
    """Detector input = image * scale + offset, per axis (x, y); `image_size` is the image's (height, width).

    With a letterbox the two scales differ only by the rounding of the resized sides.
    """

    scale: tuple[float, float]
    offset: tuple[float, float]
    image_size: tuple[int, int]

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """(K, 4) xyxy image boxes in detector-input coordinates."""
        scale = np.tile(np.asarray(self.scale), 2)
        return np.asarray(boxes, dtype=np.float64) * scale + np.tile(np.asarray(self.offset), 2)

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """(K, 4) xyxy detector-input boxes in image pixels, clipped to the image."""
        scale = np.tile(np.asarray(self.scale), 2)
        image_boxes = (np.asarray(boxes, dtype=np.float64) - np.tile(np.asarray(self.offset), 2)) / scale
        height, width = self.image_size
        return np.clip(image_boxes, 0.0, np.array([width, height, width, height], dtype=np.float64))


@dataclass(frozen=True)
class Detections:
    """Boxes (K, 4) xyxy in image pixels, their scores (K,) and class indices (K,), best score first."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def resize_to_input(image: np.ndarray, spec: DetectorInputSpec) -> tuple[np.ndarray, InputTransform]:
    """The image (H, W, C) resized onto the (height, width) input canvas as the spec says, same dtype."""
    image_height, image_width = image.shape[:2]
    if spec.resize == LETTERBOX:
        ratio = min(spec.height / image_height, spec.width / image_width)
        new_width = min(spec.width, max(1, round(image_width * ratio)))
        new_height = min(spec.height, max(1, round(image_height * ratio)))
    else:
        new_width, new_height = spec.width, spec.height
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    left, top = 0, 0
    if spec.pad_position == CENTER:
        left, top = (spec.width - new_width) // 2, (spec.height - new_height) // 2
    if (new_width, new_height) == (spec.width, spec.height):
        canvas = resized
    else:
        canvas = np.full((spec.height, spec.width, image.shape[2]), spec.pad_value, dtype=image.dtype)
        canvas[top : top + new_height, left : left + new_width] = resized
    transform = InputTransform(
        scale=(new_width / image_width, new_height / image_height),
        offset=(float(left), float(top)),
        image_size=(image_height, image_width),
    )
    return canvas, transform


def anchor_grid(height: int, width: int, strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor of a YOLOX head: its grid cell (A, 2) as (x, y) and its stride (A,), stride by stride,
    each grid row-major, as the head flattens them."""
    cells, cell_strides = [], []
    for stride in strides:
        rows, columns = height // stride, width // stride
        ys, xs = np.mgrid[0:rows, 0:columns]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        cell_strides.append(np.full(rows * columns, stride))
    return np.concatenate(cells).astype(np.float64), np.concatenate(cell_strides).astype(np.float64)


def decode_yolox_head(
    rows: np.ndarray,
    cells: np.ndarray,
    strides: np.ndarray,
    classes: np.ndarray,
    score_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate boxes (xyxy, input pixels), scores and classes of a YOLOX head (A, 5 + num_classes).

    Every (anchor, class) pair of `classes` whose objectness x class score reaches the threshold is a
    candidate, so an anchor that is a person and a chair is both.
    """
    scores = rows[:, _YOLOX_OBJECTNESS, None] * rows[:, _YOLOX_FIRST_CLASS + classes]
    anchors, which = np.nonzero(scores >= score_threshold)
    anchor_strides = strides[anchors, None]
    centres = (rows[anchors, :2] + cells[anchors]) * anchor_strides
    extents = np.exp(np.minimum(rows[anchors, 2:_YOLOX_BOX_COLUMNS], _MAX_LOG_EXTENT)) * anchor_strides
    boxes = np.concatenate([centres - extents / 2, centres + extents / 2], axis=1)
    return boxes, scores[anchors, which], classes[which]


def decode_suppressed(
    rows: np.ndarray,
    spec: DetectorOutputSpec,
    input_size: tuple[int, int],
    classes: np.ndarray,
    score_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy, input pixels), scores and classes of suppressed rows (K, 6) of `classes` and scores
    reaching the threshold; rows a graph pads its output with (score 0) fall below any positive threshold."""
    labels = rows[:, 5].astype(np.int64)
    keep = (rows[:, 4] >= score_threshold) & np.isin(labels, classes)
    boxes = rows[keep, :4].astype(np.float64)
    if spec.coordinates == INPUT_NORMALIZED:
        height, width = input_size
        boxes = boxes * np.array([width, height, width, height], dtype=np.float64)
    return boxes, rows[keep, 4].astype(np.float64), labels[keep]


def class_aware_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float, max_detections: int
) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS within each class, best score first, at most
    `max_detections`: boxes of different classes never suppress each other."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    indices = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), scores.tolist(), classes.tolist(), 0.0, iou_threshold, top_k=max_detections
    )
    kept = np.asarray(indices, dtype=np.int64).reshape(-1)
    return kept[np.argsort(-scores[kept], kind="stable")][:max_detections]


@dataclass(frozen=True)
class DetectorCodec:
    """Preprocessing and decoding of one detector, built from its metadata (`from_metadata`)."""

    input: DetectorInputSpec
    output: DetectorOutputSpec
    person_class: int
    _cells: np.ndarray = field(init=False, repr=False, compare=False)
    _strides: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cells, strides = (
            anchor_grid(self.input.height, self.input.width, self.output.strides)
            if self.output.format == YOLOX_HEAD
            else (np.zeros((0, 2)), np.zeros(0))
        )
        object.__setattr__(self, "_cells", cells)
        object.__setattr__(self, "_strides", strides)

    @classmethod
    def from_metadata(cls, metadata: DetectorMetadata) -> "DetectorCodec":
        return cls(metadata.input, metadata.output, metadata.person_class)

    @property
    def anchors(self) -> int:
        """Rows of a YOLOX head's output (0 for suppressed output)."""
        return len(self._strides)

    @property
    def row_columns(self) -> int:
        """Columns of one output row: box, objectness and class scores (YOLOX), or box, score, class."""
        if self.output.format == YOLOX_HEAD:
            return _YOLOX_FIRST_CLASS + self.output.num_classes
        return _SUPPRESSED_COLUMNS

    def output_problem(self, shape: tuple[int, ...]) -> str | None:
        """Why an output batch of `shape` (N, rows, columns) is not this detector's, or None."""
        if self.output.format == YOLOX_HEAD:
            expected = f"a YOLOX head (N, {self.anchors}, {self.row_columns})"
            fits = len(shape) == 3 and shape[1:] == (self.anchors, self.row_columns)
        else:
            expected = f"suppressed rows (N, K, {self.row_columns})"
            fits = len(shape) == 3 and shape[2] == self.row_columns
        return None if fits else f"the detector's output should be {expected}, not {shape}"

    def preprocess(self, image: np.ndarray, color: str = RGB) -> tuple[np.ndarray, InputTransform]:
        """The input tensor (batch of one) for an (H, W, 3) uint8 image in `color` order, and the transform
        from image to input pixels."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        if color not in COLORS:
            raise ValueError(f"colour order {color!r} is not one of {', '.join(COLORS)}")
        spec = self.input
        canvas, transform = resize_to_input(image, spec)
        if color != spec.color:
            canvas = canvas[..., ::-1]
        if spec.dtype == UINT8:
            tensor = np.ascontiguousarray(canvas)
        else:
            tensor = canvas.astype(np.float32)
            if not spec.is_raw_pixels:
                mean, std = np.array(spec.mean, np.float32), np.array(spec.std, np.float32)
                tensor = (tensor * np.float32(spec.pixel_scale) - mean) / std
        if spec.layout == NCHW:
            tensor = tensor.transpose(2, 0, 1)
        return np.ascontiguousarray(tensor[None]), transform

    def decode(
        self,
        output: np.ndarray,
        transform: InputTransform,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        iou_threshold: float = DEFAULT_IOU_THRESHOLD,
        classes: Sequence[int] | None = None,
        min_size: float = 0.0,
        max_detections: int = DEFAULT_MAX_DETECTIONS,
    ) -> Detections:
        """Boxes of one image's output ((1, rows, columns) or (rows, columns)) in image pixels.

        `classes` defaults to the person class alone; boxes narrower or lower than `min_size` image pixels
        (after clipping to the image) are dropped.
        """
        rows = np.asarray(output)
        if rows.ndim == 3 and rows.shape[0] == 1:
            rows = rows[0]
        wanted = np.asarray([self.person_class] if classes is None else list(classes), dtype=np.int64)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self.output.num_classes):
            raise ValueError(f"classes {wanted.tolist()} are not among the {self.output.num_classes} classes")
        problem = self.output_problem((1, *rows.shape))
        if problem is not None:
            raise ValueError(problem)
        if self.output.format == YOLOX_HEAD:
            boxes, scores, labels = decode_yolox_head(
                rows.astype(np.float64), self._cells, self._strides, wanted, score_threshold
            )
        else:
            input_size = (self.input.height, self.input.width)
            boxes, scores, labels = decode_suppressed(rows, self.output, input_size, wanted, score_threshold)
        boxes = transform.to_image(boxes)
        sides = boxes[:, 2:] - boxes[:, :2]
        large = (sides >= min_size).all(axis=1) & (sides > 0).all(axis=1)
        boxes, scores, labels = boxes[large], scores[large], labels[large]
        kept = class_aware_nms(boxes, scores, labels, iou_threshold, max_detections)
        return Detections(
            boxes=boxes[kept].astype(np.float32),
            scores=scores[kept].astype(np.float32),
            classes=labels[kept],
        )
