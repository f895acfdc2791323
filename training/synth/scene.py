"""One synthetic image: background, distractors, figures, noise and blur, with its annotated persons."""

import cv2
import numpy as np

from training.synth.annotation import Entry, annotate_figures
from training.synth.drawing import Canvas, draw_background, paint_distractors, part_owner
from training.synth.figure import sample_figure

SPLITS: dict[str, int] = {"train": 0, "valid": 1}
DEFAULT_IMAGE_SIZE = (320, 448)


def render_image(
    seed: int, split: str, index: int, size_range: tuple[int, int]
) -> tuple[np.ndarray, list[Entry]]:
    """One RGB uint8 image and its annotated persons; a pure function of its arguments."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    height, width = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
    canvas = Canvas(draw_background(rng, height, width), rng.uniform(0, 360))
    paint_distractors(rng, canvas, int(rng.integers(4, 14)))
    count = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1]))
    side = min(height, width)
    figures = []
    for figure_index in range(count):
        middle = rng.uniform([0.1 * width, 0.15 * height], [0.9 * width, 0.85 * height])
        figure_height = rng.uniform(0.4, 0.9) * side if figure_index == 0 else rng.uniform(0.25, 0.9) * side
        figure = sample_figure(rng, middle, figure_height)
        for part_index, part in enumerate(figure.parts):
            canvas.paint(part, part_owner(figure_index, part_index), figure.texture)
        figures.append(figure)
    paint_distractors(rng, canvas, int(rng.integers(0, 3)))
    noise = rng.standard_normal(size=canvas.image.shape, dtype=np.float32)
    image = canvas.image + noise * np.float32(rng.uniform(0.0, 10.0))
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.2))
    return np.clip(image, 0, 255).astype(np.uint8), annotate_figures(figures, canvas.owner)


def image_name(split: str, index: int) -> str:
    return f"{split}_{index:07d}.jpg"
