"""Residual units and normalisation shared by the backbone and the heads.

Attribute names (conv1, bn1, ..., downsample) follow the official HRNet layout so that
timm / official checkpoints load key for key.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

from hrnet_lit.models.sync_norm import SyncBatchNorm2d

NormName = Literal["batch", "sync_batch", "group"]
BlockName = Literal["basic", "bottleneck"]

NORMS: tuple[str, ...] = get_args(NormName)
BLOCK_NAMES: tuple[str, ...] = get_args(BlockName)


def group_count(channels: int, max_groups: int = 32) -> int:
    """Largest divisor of `channels` not above `max_groups` that leaves at least two channels per group
    (HRNet widths, 18, 36, 72..., rarely divide 32): a group of one channel on the 1x1 map of the
    1/32 branch of a small image would normalise a single value, which GroupNorm refuses."""
    if channels < 2:
        return 1
    return max(g for g in range(1, max_groups + 1) if channels % g == 0 and channels // g >= 2)


def make_norm(norm: NormName, channels: int) -> nn.Module:
    """The normalisation layer named by the `norm` knob.

    `sync_batch` builds the layer that also syncs on CPU; a task makes it torch's own SyncBatchNorm
    once it sees a process group that is not gloo (`sync_norm.use_native_sync_batchnorm`).
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "sync_batch":
        return SyncBatchNorm2d(channels)
    if norm == "group":
        return nn.GroupNorm(group_count(channels), channels)
    raise ValueError(f"norm={norm!r} is not supported; choose one of {NORMS}")


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_channels: int, out_channels: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, bias=bias)


def conv_norm(
    in_channels: int, out_channels: int, kernel: int, norm: NormName, stride: int = 1, relu: bool = False
) -> nn.Sequential:
    """conv (no bias) + norm [+ ReLU]: indices 0 and 1 match the official checkpoints."""
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        make_norm(norm, out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut: the residual unit of stages 2-4."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, norm: NormName = "batch") -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = make_norm(norm, planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = make_norm(norm, planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, planes * self.expansion, stride, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += shortcut  # in place: neither the norm nor the conv before it keeps its output for backward
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 unit with 4x expansion: stage 1 and the HRNet-C head."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, norm: NormName = "batch") -> None:
        super().__init__()
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = make_norm(norm, planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = make_norm(norm, planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = make_norm(norm, planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, planes * self.expansion, stride, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += shortcut
        return self.relu(out)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _shortcut(in_channels: int, out_channels: int, stride: int, norm: NormName) -> nn.Sequential | None:
    if stride == 1 and in_channels == out_channels:
        return None
    return conv_norm(in_channels, out_channels, 1, norm, stride=stride)


def make_layer(
    block: BlockName, in_channels: int, planes: int, num_blocks: int, norm: NormName, stride: int = 1
) -> nn.Sequential:
    """`num_blocks` units of one type; the first adapts the width (and stride) of its input."""
    unit = BLOCKS[block]
    layers = [unit(in_channels, planes, stride, norm)]
    layers += [unit(planes * unit.expansion, planes, 1, norm) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers)
