"""The network's framework-free shape rule: heatmaps at a quarter of the input, sides multiples of 64."""

import pytest

from core.hourglass import heatmap_side


@pytest.mark.parametrize(("input_side", "expected"), [(64, 16), (128, 32), (256, 64), (384, 96)])
def test_heatmap_side_is_a_quarter_of_the_input(input_side: int, expected: int) -> None:
    assert heatmap_side(input_side) == expected


@pytest.mark.parametrize("input_side", [0, -64, 32, 96, 200, 250])
def test_sides_the_hourglass_cannot_halve_four_times_after_the_stem_are_refused(input_side: int) -> None:
    with pytest.raises(ValueError, match=f"input size {input_side} must be a positive multiple of 64"):
        heatmap_side(input_side)
