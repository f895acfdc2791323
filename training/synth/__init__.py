"""Synthetic people in MPII's layout, so that the whole pipeline can train and evaluate without MPII images.

    python -m training.synth --out DIR --train N --val M [--seed S] [--image-size MIN MAX]
                             [--families capsule,clothed,flat,textured] [--exclude-family F ...]

Each image holds a few people of one style family (chosen per image by the seed; `families`) over a
background with natural-image statistics, with distractors, occluding objects and camera effects. One module
per job: `pose` (activity prior, 3-D skeleton, projection), `body` (volumetric clothed bodies), `wardrobe`
(outfits and each family's painting style), `figure` (the first generator's capsule figures), `drawing`
(rasteriser that records which part is on top where), `textures`, `photos` (people-free photographs shipped
with scikit-image), `backgrounds`, `objects` (distractors and occluders), `camera` (lighting, blur, noise,
JPEG), `annotation` (MPII entries, plus each person's family), `scene` (one image), `parallel` (process
pool), `cli`.

Every image is a pure function of (seed, split, image index, families), so the output does not depend on
the number of worker processes. It does depend on the numpy and OpenCV builds: the same command drew other
persons on a GPU machine (Python 3.12, numpy 2.5 by its package list) than on the 2-core CPU machine (Python
3.11, numpy 2.4.6, OpenCV 5.0.0).
"""

from training.synth.annotation import MIN_ANNOTATED_JOINTS, Entry
from training.synth.cli import main
from training.synth.drawing import Part
from training.synth.families import FAMILIES, select_families
from training.synth.figure import Figure, sample_figure
from training.synth.parallel import generate, generate_split
from training.synth.scene import DEFAULT_IMAGE_SIZE, image_name, render_image

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "FAMILIES",
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
    "select_families",
]
