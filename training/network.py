"""The Stacked Hourglass network (docs/reference.md#network) as a MindSpore cell with the ModelZoo's names.

Parameter names and shapes equal the MindSpore ModelZoo port's, so its `.ckpt` files load strictly, and the
forward pass equals the PyTorch reference's, so its checkpoints convert (training.import_torch). Unlike the
ModelZoo port, upsampling is by a factor of two, so any input whose sides are multiples of
core.hourglass.INPUT_MULTIPLE works; its widths, depth and stride live there too, framework-free.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

from mindspore import Tensor, nn, ops

from core.hourglass import HOURGLASS_DEPTH, STEM_CHANNELS, STEM_RESIDUAL_CHANNELS
from core.joints import NUM_JOINTS

BN_MOMENTUM = 0.9  # MindSpore's convention: equals PyTorch's momentum=0.1
BN_EPS = 1e-5  # PyTorch's default, so that imported reference checkpoints give the same outputs


class Conv(nn.Cell):
    """k x k convolution with bias and 'same' padding: the reference's Conv(bn=False, relu=False)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            pad_mode="pad",
            padding=(kernel_size - 1) // 2,
            has_bias=True,
        )

    def construct(self, x: Tensor) -> Tensor:
        return self.conv(x)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class ConvBnRelu(nn.Cell):
    """Conv, then BN, then ReLU (the reference's Conv(bn=True, relu=True)); named `conv.conv.*`, `bn.*`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.conv = Conv(in_channels, out_channels, kernel_size, stride)
        self.bn = batch_norm(out_channels)
        self.relu = nn.ReLU()

    def construct(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class Residual(nn.Cell):
    """Pre-activation bottleneck; the 1x1 skip conv exists even when unused (reference quirk)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        middle = out_channels // 2
        self.bn1 = batch_norm(in_channels)
        self.conv1 = Conv(in_channels, middle, 1)
        self.bn2 = batch_norm(middle)
        self.conv2 = Conv(middle, middle, 3)
        self.bn3 = batch_norm(middle)
        self.conv3 = Conv(middle, out_channels, 1)
        self.skip_layer = Conv(in_channels, out_channels, 1)
        self.relu = nn.ReLU()
        self.need_skip = in_channels != out_channels

    def construct(self, x: Tensor) -> Tensor:
        residual = self.skip_layer(x) if self.need_skip else x
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + residual


class Upsample2x(nn.Cell):
    """Nearest-neighbour upsampling by 2 (floor(dst / 2), as PyTorch's nn.Upsample(scale_factor=2))."""

    def construct(self, x: Tensor) -> Tensor:
        height, width = x.shape[2], x.shape[3]
        return ops.ResizeNearestNeighbor((height * 2, width * 2))(x)


class Hourglass(nn.Cell):
    """Recursive hourglass of depth n at constant width f."""

    def __init__(self, depth: int, features: int) -> None:
        super().__init__()
        self.up1 = Residual(features, features)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.low1 = Residual(features, features)
        self.low2 = Hourglass(depth - 1, features) if depth > 1 else Residual(features, features)
        self.low3 = Residual(features, features)
        self.up2 = Upsample2x()

    def construct(self, x: Tensor) -> Tensor:
        up1 = self.up1(x)
        low = self.low3(self.low2(self.low1(self.pool1(x))))
        return up1 + self.up2(low)


class StackedHourglass(nn.Cell):
    """NHWC float32 RGB in [0, 1], sides multiples of INPUT_MULTIPLE -> heatmaps (B, nstack, J, H/4, W/4)."""

    def __init__(self, nstack: int = 2, features: int = 256, num_joints: int = NUM_JOINTS) -> None:
        super().__init__()
        self.nstack = nstack
        self.pre = nn.SequentialCell(
            ConvBnRelu(3, STEM_CHANNELS, 7, 2),
            Residual(STEM_CHANNELS, STEM_RESIDUAL_CHANNELS),
            nn.MaxPool2d(kernel_size=2, stride=2),
            Residual(STEM_RESIDUAL_CHANNELS, STEM_RESIDUAL_CHANNELS),
            Residual(STEM_RESIDUAL_CHANNELS, features),
        )
        self.hgs = nn.CellList(
            [nn.SequentialCell(Hourglass(HOURGLASS_DEPTH, features)) for _ in range(nstack)]
        )
        self.features = nn.CellList(
            [
                nn.SequentialCell(Residual(features, features), ConvBnRelu(features, features, 1))
                for _ in range(nstack)
            ]
        )
        self.outs = nn.CellList([Conv(features, num_joints, 1) for _ in range(nstack)])
        self.merge_features = nn.CellList([Conv(features, features, 1) for _ in range(nstack - 1)])
        self.merge_preds = nn.CellList([Conv(num_joints, features, 1) for _ in range(nstack - 1)])

    def construct(self, images: Tensor) -> Tensor:
        x = self.pre(ops.transpose(images, (0, 3, 1, 2)))
        preds: tuple[Tensor, ...] = ()
        for i in range(self.nstack):
            feature = self.features[i](self.hgs[i](x))
            pred = self.outs[i](feature)
            preds = (*preds, pred)
            if i < self.nstack - 1:
                x = x + self.merge_preds[i](pred) + self.merge_features[i](feature)
        return ops.stack(preds, axis=1)


@dataclass(frozen=True)
class NetworkConfig:
    """The hyper-parameters that determine a StackedHourglass's parameter names and shapes."""

    nstack: int = 2
    features: int = 256
    num_joints: int = NUM_JOINTS

    def build(self) -> StackedHourglass:
        return StackedHourglass(self.nstack, self.features, self.num_joints)


def count_parameters(net: nn.Cell, trainable_only: bool = True) -> int:
    """Number of scalars in the network's parameters (trainable ones, or also BN moving statistics)."""
    params = net.trainable_params() if trainable_only else net.get_parameters()
    return sum(int(p.size) for p in params)


_OUTS_PATTERN = re.compile(r"^outs\.(\d+)\.conv\.weight$")


def infer_config(shapes: Mapping[str, Any]) -> NetworkConfig:
    """(nstack, features, num_joints) from a parameter dict with ModelZoo names (values: arrays or shapes).

    Raises ValueError when the dict lacks the prediction heads `outs.<i>.conv.weight`.
    """
    heads = {int(m.group(1)): name for name in shapes if (m := _OUTS_PATTERN.match(name))}
    if not heads:
        raise ValueError("no 'outs.<i>.conv.weight' parameters: not a Stacked Hourglass checkpoint")
    nstack = max(heads) + 1
    if sorted(heads) != list(range(nstack)):
        raise ValueError(f"prediction heads {sorted(heads)} are not numbered 0..{nstack - 1}")
    shape = tuple(getattr(shapes[heads[0]], "shape", shapes[heads[0]]))
    return NetworkConfig(nstack=nstack, features=int(shape[1]), num_joints=int(shape[0]))
