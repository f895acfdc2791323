"""Batch gears: the fixed batch sizes a Lite model on Ascend (or GPU) is declared, compiled and run with.

Pure rules, shared by the settings (validation), the Lite backend (its declaration) and the batcher (padding
a batch up to the smallest gear that holds it).
"""

from collections.abc import Sequence

from core.codec import FLIP_PAIR_CROPS

MAX_GEAR = 2048  # Ascend's limit on one dynamic_dims gear
MAX_GEARS = 100  # Ascend's limit on the number of gears
DEFAULT_GEARS = (1, 2, 4, 8)


def check_gears(gears: Sequence[int]) -> tuple[int, ...]:
    """Sorted, distinct batch gears that Ascend accepts, with the flip pair (the batch one flip request
    forms) always among them."""
    chosen = tuple(sorted({int(g) for g in gears} | {FLIP_PAIR_CROPS}))
    if chosen[0] < 1 or chosen[-1] > MAX_GEAR:
        raise ValueError(f"every batch gear must lie in 1..{MAX_GEAR}, got {list(chosen)}")
    if len(chosen) > MAX_GEARS:
        raise ValueError(f"at most {MAX_GEARS} batch gears, got {len(chosen)}")
    return chosen


def smallest_gear(size: int, gears: Sequence[int]) -> int:
    """The smallest gear that holds `size` rows; ValueError when even the largest is too small."""
    for gear in sorted(gears):
        if gear >= size:
            return gear
    raise ValueError(f"a batch of {size} crops exceeds the largest batch gear {max(gears)}")
