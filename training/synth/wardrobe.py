"""What a volumetric figure wears and how it is painted: skin, hair and clothing (an Outfit), and the
family's painting style (a Look: shading, cartoon outline, silhouette, cloth and skin textures)."""

from dataclasses import dataclass, field

import numpy as np

from training.synth.textures import PATTERN_KINDS, pattern_tile

SLEEVES = ("none", "short", "long")
BOTTOMS = ("trousers", "shorts", "skirt", "dress")
HAIR_STYLES = ("short", "long", "bald", "bun")
BAGS = ("none", "shoulder", "backpack")


def skin_color(rng: np.random.Generator) -> np.ndarray:
    """A skin tone between dark brown and pale, with a little variation in hue."""
    tone = rng.uniform(0, 1)
    dark, light = np.array([70.0, 45.0, 32.0]), np.array([245.0, 210.0, 190.0])
    return np.clip(dark + tone * (light - dark) + rng.normal(0, 8, size=3), 0, 255)


def hair_color(rng: np.random.Generator) -> np.ndarray:
    palette = np.array(
        [[20, 16, 14], [60, 40, 25], [110, 75, 40], [200, 170, 110], [150, 60, 30], [180, 180, 180]],
        dtype=np.float64,
    )
    if rng.random() < 0.1:  # dyed
        return rng.uniform(0, 255, size=3)
    return np.clip(palette[int(rng.integers(len(palette)))] + rng.normal(0, 10, size=3), 0, 255)


def cloth_color(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.3:  # the greys, blacks, whites and denim of everyday clothes
        base = rng.uniform(15, 240)
        return np.clip(
            base + rng.normal(0, 6, size=3) + (rng.random() < 0.3) * np.array([-20, 0, 40]), 0, 255
        )
    return rng.uniform(10, 245, size=3)


@dataclass(frozen=True)
class Outfit:
    colors: dict[str, np.ndarray]
    sleeves: str
    bottom: str
    hair_style: str
    coat: bool
    hat: bool
    bag: str
    bag_side: str  # the shoulder a shoulder bag hangs from
    neckline: bool
    hem: float  # a skirt's hem, as a fraction of the way from hips to knees

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Outfit":
        colors = {
            "skin": skin_color(rng),
            "hair": hair_color(rng),
            "top": cloth_color(rng),
            "bottom": cloth_color(rng),
            "coat": cloth_color(rng),
            "shoes": cloth_color(rng) * 0.5,
            "hat": cloth_color(rng),
            "bag": cloth_color(rng),
        }
        colors["feature"] = colors["skin"] * 0.45
        bottom = str(rng.choice(BOTTOMS, p=[0.55, 0.15, 0.2, 0.1]))
        if bottom == "dress":
            colors["top"] = colors["bottom"]
        return cls(
            colors=colors,
            sleeves=str(rng.choice(SLEEVES, p=[0.2, 0.4, 0.4])),
            bottom=bottom,
            hair_style=str(rng.choice(HAIR_STYLES, p=[0.45, 0.3, 0.1, 0.15])),
            coat=bool(rng.random() < 0.2),
            hat=bool(rng.random() < 0.12),
            bag=str(rng.choice(BAGS, p=[0.65, 0.2, 0.15])),
            bag_side=str(rng.choice(["right", "left"])),
            neckline=bool(rng.random() < 0.7),
            hem=float(rng.uniform(0.4, 1.0)),
        )


@dataclass(frozen=True)
class Look:
    """How a family paints a figure."""

    shading: float = 1.0
    outline: int = 0
    silhouette: np.ndarray | None = None  # one colour for everything, no face features
    patterns: dict[str, np.ndarray] = field(default_factory=dict)  # garment -> tile

    @classmethod
    def shaded(cls, rng: np.random.Generator) -> "Look":
        """Cylinder shading, plain cloth with now and then stripes or checks on the top."""
        patterns = {}
        if rng.random() < 0.3:
            patterns["top"] = pattern_tile(rng, str(rng.choice(["stripes", "checks"])))
        return cls(shading=float(rng.uniform(0.7, 1.0)), patterns=patterns)

    @classmethod
    def flat(cls, rng: np.random.Generator) -> "Look":
        """Flat colours, often a dark cartoon outline, sometimes a one-colour silhouette."""
        silhouette = rng.uniform(0, 255, size=3) if rng.random() < 0.15 else None
        return cls(
            shading=0.0,
            outline=int(rng.choice([0, 1, 2, 3], p=[0.3, 0.3, 0.25, 0.15])),
            silhouette=silhouette,
        )

    @classmethod
    def textured(cls, rng: np.random.Generator) -> "Look":
        """Every garment textured (1/f noise, stripes, checks, dots or a photograph), skin with grain."""
        patterns = {
            garment: pattern_tile(rng, str(rng.choice(PATTERN_KINDS)))
            for garment in ("top", "bottom", "coat", "hat", "bag", "shoes")
        }
        patterns["hair"] = pattern_tile(rng, "noise")
        patterns["skin"] = 1.0 + (pattern_tile(rng, "noise") - 1.0) * 0.3
        return cls(shading=float(rng.uniform(0.5, 1.0)), patterns=patterns)
