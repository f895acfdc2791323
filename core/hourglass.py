"""The Stacked Hourglass's shape facts, framework-free: its widths, depth, heatmap stride and input rule.

The MindSpore network (training.network), the PyTorch one (training.torch_network), the training data, the
export and the codec all read these, so the geometry has one source that core may import.
"""

from typing import Final

HOURGLASS_DEPTH: Final[int] = 4
STEM_CHANNELS: Final[int] = 64
STEM_RESIDUAL_CHANNELS: Final[int] = 128
# The stem's stride-2 7x7 convolution and its 2x2 pooling: a heatmap pixel is 4 input pixels.
HEATMAP_STRIDE: Final[int] = 4
# Each hourglass level pools by 2 and upsamples back, so its input must divide by 2**depth.
INPUT_MULTIPLE: Final[int] = HEATMAP_STRIDE * 2**HOURGLASS_DEPTH


def heatmap_side(input_side: int) -> int:
    """The network's heatmap side for an input side; ValueError unless a positive multiple of 64."""
    if input_side <= 0 or input_side % INPUT_MULTIPLE:
        raise ValueError(f"input size {input_side} must be a positive multiple of {INPUT_MULTIPLE}")
    return input_side // HEATMAP_STRIDE
