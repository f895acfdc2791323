"""The reference network, PoseNet, in PyTorch with its state-dict names, for the GPU trainer.

Layer for layer the MindSpore `training.network.StackedHourglass`, from the same framework-free shape facts
(core.hourglass); its checkpoints convert into ours with training.import_torch. The tests hold it to the
reference's golden forward pass.
"""

import torch
from torch import nn

from core.hourglass import HOURGLASS_DEPTH, STEM_CHANNELS, STEM_RESIDUAL_CHANNELS
from core.joints import NUM_JOINTS


class Conv(nn.Module):
    def __init__(
        self, inp: int, out: int, kernel: int = 3, stride: int = 1, bn: bool = False, relu: bool = True
    ):
        super().__init__()
        self.conv = nn.Conv2d(inp, out, kernel, stride, padding=(kernel - 1) // 2, bias=True)
        self.bn = nn.BatchNorm2d(out) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = self.bn(x) if self.bn is not None else x
        return self.relu(x) if self.relu is not None else x


class Residual(nn.Module):
    def __init__(self, inp: int, out: int):
        super().__init__()
        mid = out // 2
        self.relu = nn.ReLU()
        self.bn1, self.conv1 = nn.BatchNorm2d(inp), Conv(inp, mid, 1, relu=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), Conv(mid, mid, 3, relu=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), Conv(mid, out, 1, relu=False)
        self.skip_layer = Conv(inp, out, 1, relu=False)  # exists even when unused, as in the reference
        self.need_skip = inp != out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip_layer(x) if self.need_skip else x
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        return self.conv3(self.relu(self.bn3(out))) + skip


class Hourglass(nn.Module):
    def __init__(self, depth: int, features: int):
        super().__init__()
        self.up1, self.pool1, self.low1 = (
            Residual(features, features),
            nn.MaxPool2d(2, 2),
            Residual(features, features),
        )
        self.low2 = Hourglass(depth - 1, features) if depth > 1 else Residual(features, features)
        self.low3, self.up2 = Residual(features, features), nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up1(x) + self.up2(self.low3(self.low2(self.low1(self.pool1(x)))))


class Merge(nn.Module):
    def __init__(self, inp: int, out: int):
        super().__init__()
        self.conv = Conv(inp, out, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PoseNet(nn.Module):
    """The reference network: NHWC images in, (B, nstack, J, H/4, W/4) heatmaps out."""

    def __init__(self, nstack: int = 2, features: int = 256, joints: int = NUM_JOINTS):
        super().__init__()
        self.nstack = nstack
        self.pre = nn.Sequential(
            Conv(3, STEM_CHANNELS, 7, 2, bn=True), Residual(STEM_CHANNELS, STEM_RESIDUAL_CHANNELS),
            nn.MaxPool2d(2, 2), Residual(STEM_RESIDUAL_CHANNELS, STEM_RESIDUAL_CHANNELS),
            Residual(STEM_RESIDUAL_CHANNELS, features),
        )  # fmt: skip
        self.hgs = nn.ModuleList(nn.Sequential(Hourglass(HOURGLASS_DEPTH, features)) for _ in range(nstack))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(features, features), Conv(features, features, 1, bn=True))
            for _ in range(nstack)
        )
        self.outs = nn.ModuleList(Conv(features, joints, 1, relu=False) for _ in range(nstack))
        self.merge_features = nn.ModuleList(Merge(features, features) for _ in range(nstack - 1))
        self.merge_preds = nn.ModuleList(Merge(joints, features) for _ in range(nstack - 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.pre(images.permute(0, 3, 1, 2))
        stacks = []
        for i in range(self.nstack):
            feature = self.features[i](self.hgs[i](x))
            stacks.append(self.outs[i](feature))
            if i < self.nstack - 1:
                x = x + self.merge_preds[i](stacks[-1]) + self.merge_features[i](feature)
        return torch.stack(stacks, 1)
