"""Style families: each image's people are drawn in one family, chosen per image by the seed, so that a
model can be trained with a family held out and scored on it.

- `capsule`: the first generator's figures (shaded, striped capsules, a torso polygon, a face or the back of
  the head; training.synth.figure).
- `clothed`: volumetric bodies with human proportions in clothes, posed by the activity prior, shaded.
- `flat`: the same bodies in flat colours: cartoons with dark outlines, now and then one-colour silhouettes.
- `textured`: the same bodies with textured cloth (1/f noise, stripes, checks, dots, photographs) and skin.
"""

from collections.abc import Callable, Sequence

import numpy as np

from training.synth.body import build_figure
from training.synth.figure import Figure, sample_figure
from training.synth.pose import Proportions, frame_skeleton, pose_skeleton, sample_pose, sample_yaw
from training.synth.wardrobe import Look, Outfit

LOOKS: dict[str, Callable[[np.random.Generator], Look]] = {
    "clothed": Look.shaded,
    "flat": Look.flat,
    "textured": Look.textured,
}
FAMILIES: tuple[str, ...] = ("capsule", *LOOKS)


def select_families(include: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> tuple[str, ...]:
    """The families to draw, in FAMILIES order; raises ValueError for an unknown name or an empty choice."""
    unknown = sorted((set(include or ()) | set(exclude)) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown family name(s) {', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    chosen = tuple(f for f in FAMILIES if (include is None or f in include) and f not in exclude)
    if not chosen:
        raise ValueError("no family left to draw: --families and --exclude-family exclude them all")
    return chosen


def sample_person(rng: np.random.Generator, family: str, middle: np.ndarray, height: float) -> Figure:
    """A person of `family` whose joints' box is centred near `middle`, `height` pixels tall standing."""
    if family == "capsule":
        return sample_figure(rng, middle, height)
    skeleton = pose_skeleton(sample_pose(rng), Proportions.sample(rng), sample_yaw(rng), rng.normal(0.0, 8.0))
    roll = rng.normal(0.0, 10.0) if rng.random() < 0.85 else rng.uniform(-100.0, 100.0)
    projection = frame_skeleton(skeleton, middle, height, roll)
    return build_figure(skeleton, projection, Outfit.sample(rng), LOOKS[family](rng))
