"""Representation heads (Fig. 4 of the paper) and HRNet-C, chosen by name.

A head declares `num_inputs`, how many of the highest-resolution branches it reads, so the
backbone can skip fusion into the others (HRNetV1 reads only the 1/4 branch).
"""

from __future__ import annotations

import itertools
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from hrnet_lit.errors import InputError
from hrnet_lit.models import checks
from hrnet_lit.models.blocks import Bottleneck, NormName, conv3x3, make_layer, make_norm
from hrnet_lit.models.fusion import UpsampleMode, resize

HeadName = Literal["v1", "v2", "v2p", "cls"]
HEAD_NAMES: tuple[str, ...] = get_args(HeadName)


class V1Head(nn.Module):
    """HRNetV1: the high-resolution (1/4) representation alone, C channels."""

    num_inputs = 1

    def __init__(self, in_channels: list[int]) -> None:
        super().__init__()
        self.out_channels = in_channels[0]

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return xs[0]


class V2Head(nn.Module):
    """HRNetV2: upsample every branch to 1/4 and concatenate (15C channels for widths C..8C)."""

    num_inputs = 4

    def __init__(
        self, in_channels: list[int], upsample_mode: UpsampleMode = "bilinear", align_corners: bool = False
    ) -> None:
        super().__init__()
        self.out_channels = sum(in_channels)
        self.upsample_mode = upsample_mode
        self.align_corners = align_corners

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        size = xs[0].shape[-2:]
        return torch.cat([resize(x, size, self.upsample_mode, self.align_corners) for x in xs], dim=1)


class V2pHead(nn.Module):
    """HRNetV2p (HRFPN): V2 concat -> 1x1 conv -> average pools to strides 4 ... 64 -> 3x3 conv each.

    The pools (kernel = stride = 2^k) round down as the official HRFPN's do (`ceil_mode=False`): a
    stride-4 map of 24 x 40 gives 1 x 2 at stride 64 (ceil: 2 x 3). Where a side is shorter than the
    kernel, where the official pool fails, that level rounds up instead, so any input size runs.
    """

    num_inputs = 4

    def __init__(
        self,
        in_channels: list[int],
        out_channels: int = 256,
        num_levels: int = 5,
        upsample_mode: UpsampleMode = "bilinear",
        align_corners: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        checks.positive_int("out_channels", out_channels)
        checks.positive_int("num_levels", num_levels)
        checks.flag("ceil_mode", ceil_mode)
        self.concat = V2Head(in_channels, upsample_mode, align_corners)
        self.reduction_conv = nn.Conv2d(self.concat.out_channels, out_channels, 1)
        self.fpn_convs = nn.ModuleList(
            conv3x3(out_channels, out_channels, bias=True) for _ in range(num_levels)
        )
        self.out_channels = out_channels
        self.ceil_mode = ceil_mode

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """xs: the backbone's branches (1/4 first) -> `num_levels` maps at 1/4, 1/8, ... of the input."""
        x = self.reduction_conv(self.concat(xs))
        short = min(x.shape[-2:])
        levels = [x] + [
            F.avg_pool2d(x, 2**k, ceil_mode=self.ceil_mode or bool(short < 2**k))
            for k in range(1, len(self.fpn_convs))
        ]
        return [conv(level) for conv, level in zip(self.fpn_convs, levels, strict=True)]


class ClsHead(nn.Module):
    """HRNet-C: widen each branch with a Bottleneck (128 ... 1024), merge high-to-low by strided
    convs, 1x1 conv to 2048, global pool, linear. Key names follow the official classifier."""

    num_inputs = 4
    head_planes = (32, 64, 128, 256)

    def __init__(self, in_channels: list[int], num_classes: int = 1000, norm: NormName = "batch") -> None:
        super().__init__()
        checks.positive_int("num_classes", num_classes)
        widths = [p * Bottleneck.expansion for p in self.head_planes]
        self.incre_modules = nn.ModuleList(
            make_layer("bottleneck", c, p, 1, norm)
            for c, p in zip(in_channels, self.head_planes, strict=True)
        )
        self.downsamp_modules = nn.ModuleList(
            nn.Sequential(conv3x3(a, b, stride=2, bias=True), make_norm(norm, b), nn.ReLU(inplace=True))
            for a, b in itertools.pairwise(widths)
        )
        self.final_layer = nn.Sequential(
            nn.Conv2d(widths[-1], 2048, 1, bias=True), make_norm(norm, 2048), nn.ReLU(inplace=True)
        )
        self.classifier = nn.Linear(2048, num_classes)
        self.out_channels = num_classes

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        y = self.incre_modules[0](xs[0])
        for incre, down, x in zip(self.incre_modules[1:], self.downsamp_modules, xs[1:], strict=True):
            y = incre(x) + down(y)
        y = self.final_layer(y)
        return self.classifier(y.mean(dim=(2, 3)))


HEADS: dict[str, type[V1Head | V2Head | V2pHead | ClsHead]] = {
    "v1": V1Head,
    "v2": V2Head,
    "v2p": V2pHead,
    "cls": ClsHead,
}


def head_class(name: str) -> type[V1Head | V2Head | V2pHead | ClsHead]:
    if not isinstance(name, str) or name not in HEADS:
        raise InputError(f"head={name!r} is not supported; choose one of {HEAD_NAMES}")
    return HEADS[name]


def build_head(
    name: HeadName,
    in_channels: list[int],
    num_classes: int = 1000,
    norm: NormName = "batch",
    upsample_mode: UpsampleMode = "bilinear",
    align_corners: bool = False,
) -> nn.Module:
    """The head named `name` over backbone branches of widths `in_channels` (classes: HRNet-C only);
    V2 and V2p upsample with `upsample_mode` / `align_corners`, which should be the backbone's own
    (as the official code uses its one ALIGN_CORNERS setting everywhere)."""
    if name == "cls":
        return ClsHead(in_channels, num_classes, norm)
    if name in ("v2", "v2p"):
        return head_class(name)(in_channels, upsample_mode=upsample_mode, align_corners=align_corners)
    return head_class(name)(in_channels)
