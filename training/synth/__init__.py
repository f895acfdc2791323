"""Synthetic people in MPII's layout, so that the whole pipeline can train and evaluate without MPII images.

    python -m training.synth --out DIR --train N --val M [--seed S] [--image-size MIN MAX]

Each image holds a few articulated figures, drawn as shaded, textured capsules with body-like widths, over
a cluttered background with limb-like distractor sticks and shapes. One module per job: `figure` samples
poses on MPII's joints and the parts that draw them, `drawing` rasterises parts and records which is on top
where, `annotation` turns a drawn figure into an MPII entry, `scene` composes one image, `parallel` renders
a split over a process pool, `cli` is the command line.

Every image is a pure function of (seed, split, image index), so the output does not depend on the number
of worker processes. It does depend on the numpy and OpenCV builds: the same command drew other persons on
the lent GPU machine (Python 3.12, numpy 2.5 by its package list) than on the development machine (Python
3.11, numpy 2.4.6, OpenCV 5.0.0).
"""

from training.synth.annotation import MIN_ANNOTATED_JOINTS, Entry
from training.synth.cli import main
from training.synth.drawing import Part
from training.synth.figure import Figure, sample_figure
from training.synth.parallel import generate, generate_split
from training.synth.scene import DEFAULT_IMAGE_SIZE, image_name, render_image

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "MIN_ANNOTATED_JOINTS",
    "Entry",
    "Figure",
    "Part",
    "generate",
    "generate_split",
    "image_name",
    "main",
    "render_image",
    "sample_figure",
]
