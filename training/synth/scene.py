"""One synthetic image: background, distractors, people of one style family, occluding objects, then what a
camera does (lighting, blur, noise, JPEG artefacts); with its annotated persons."""

import numpy as np

from training.synth.annotation import Entry, annotate_figures
from training.synth.backgrounds import draw_background
from training.synth.camera import photograph
from training.synth.drawing import PARTS_PER_FIGURE, Canvas, part_owner
from training.synth.families import FAMILIES, sample_person
from training.synth.objects import paint_distractors, paint_occluders

SPLITS: dict[str, int] = {"train": 0, "valid": 1}
DEFAULT_IMAGE_SIZE = (320, 448)
OVERLAP_PROBABILITY = 0.35  # a further person placed close to the previous one
ZOOM_PROBABILITY = 0.1  # a person taller than the image, so truncated
OCCLUDER_PROBABILITY = 0.25  # per person, an object in front of them


def render_image(
    seed: int, split: str, index: int, size_range: tuple[int, int], families: tuple[str, ...] = FAMILIES
) -> tuple[np.ndarray, list[Entry]]:
    """One RGB uint8 image and its annotated persons; a pure function of its arguments."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    height, width = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
    family = families[int(rng.integers(len(families)))]
    canvas = Canvas(draw_background(rng, height, width), rng.uniform(0, 360))
    paint_distractors(rng, canvas, int(rng.integers(2, 12)))
    count = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1]))
    side = min(height, width)
    figures = []
    for figure_index in range(count):
        if figures and rng.random() < OVERLAP_PROBABILITY:
            previous = figures[-1].joints
            spread = np.ptp(previous, axis=0).max()
            middle = previous.mean(axis=0) + rng.uniform(-0.5, 0.5, size=2) * spread
        else:
            middle = rng.uniform([0.05 * width, 0.1 * height], [0.95 * width, 0.9 * height])
        low = 0.4 if figure_index == 0 else 0.25
        figure_height = rng.uniform(low, 0.9) * side
        if rng.random() < ZOOM_PROBABILITY:
            figure_height = rng.uniform(0.9, 1.5) * side
        figure = sample_person(rng, family, middle, figure_height)
        if len(figure.parts) > PARTS_PER_FIGURE:
            raise RuntimeError(
                f"a {family} figure has {len(figure.parts)} parts, more than {PARTS_PER_FIGURE}"
            )
        for part_index, part in enumerate(figure.parts):
            canvas.paint(part, part_owner(figure_index, part_index), figure.texture)
        figures.append(figure)
    boxes = [np.concatenate([f.joints.min(axis=0), f.joints.max(axis=0)]) for f in figures]
    paint_occluders(rng, canvas, boxes, OCCLUDER_PROBABILITY)
    paint_distractors(rng, canvas, int(rng.integers(0, 3)))
    return photograph(rng, canvas.image), annotate_figures(figures, canvas.owner, family)


def image_name(split: str, index: int) -> str:
    return f"{split}_{index:07d}.jpg"
