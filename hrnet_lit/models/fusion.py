"""Multi-resolution fusion: align every branch to every output branch, then merge.

Alignment is the paper's (Fig. 3): identity for the same branch, 1x1 conv + norm then upsampling
to the exact target size for lower resolutions, a chain of strided 3x3 convs for higher ones.
The merge is the ablation knob: `sum` is the paper; `weighted`, `concat` and `attention` are
alternatives that none of the official repositories has.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from hrnet_lit.models.blocks import NormName, conv1x1, conv_norm

FuseMethod = Literal["sum", "weighted", "concat", "attention"]
UpsampleMode = Literal["bilinear", "nearest"]

FUSE_METHODS: tuple[str, ...] = get_args(FuseMethod)
UPSAMPLE_MODES: tuple[str, ...] = get_args(UpsampleMode)


def make_align_layers(channels: list[int], num_outputs: int, norm: NormName) -> nn.ModuleList:
    """`layers[i][j]` maps branch j to branch i's width (and resolution, for j < i).

    Key layout = official `fuse_layers`: `i.j.0/1` (conv, norm) upwards, `i.j.k.0/1` per strided step.
    """
    rows = nn.ModuleList()
    for i in range(num_outputs):
        row = nn.ModuleList()
        for j, source in enumerate(channels):
            if j == i:
                row.append(nn.Identity())
            elif j > i:
                row.append(conv_norm(source, channels[i], 1, norm))
            else:
                steps = [conv_norm(source, source, 3, norm, stride=2, relu=True) for _ in range(i - j - 1)]
                steps.append(conv_norm(source, channels[i], 3, norm, stride=2))
                row.append(nn.Sequential(*steps))
        rows.append(row)
    return rows


def resize(
    x: torch.Tensor, size: torch.Size | tuple[int, int], mode: UpsampleMode, align_corners: bool
) -> torch.Tensor:
    """Upsample to an exact size (not a scale factor), so odd input sizes stay aligned."""
    if x.shape[-2:] == size:
        return x
    return F.interpolate(x, size=size, mode=mode, align_corners=align_corners if mode == "bilinear" else None)


class SumMerge(nn.Module):
    """The paper: plain sum of the aligned inputs."""

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        out = xs[0] + xs[1]  # a fresh tensor, so the rest can be added in place
        for x in xs[2:]:
            out += x
        return out


class WeightedMerge(nn.Module):
    """Learned non-negative weights normalised to sum to one (BiFPN's fast normalised fusion)."""

    def __init__(self, num_inputs: int, eps: float = 1e-4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_inputs))
        self.eps = eps

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        w = F.relu(self.weight)
        w = w / (w.sum() + self.eps)
        return sum(wi * x for wi, x in zip(w, xs, strict=True))


class ConcatMerge(nn.Module):
    """Concatenate the aligned inputs, 1x1 conv + norm back to the branch width."""

    def __init__(self, num_inputs: int, channels: int, norm: NormName) -> None:
        super().__init__()
        self.proj = conv_norm(num_inputs * channels, channels, 1, norm)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.proj(torch.cat(xs, dim=1))


class AttentionMerge(nn.Module):
    """Per-pixel softmax gate over the inputs, predicted from their concatenation."""

    def __init__(self, num_inputs: int, channels: int) -> None:
        super().__init__()
        self.gate = conv1x1(num_inputs * channels, num_inputs, bias=True)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        gates = self.gate(torch.cat(xs, dim=1)).softmax(dim=1)
        return sum(gates[:, k : k + 1] * x for k, x in enumerate(xs))


def make_merge(method: FuseMethod, num_inputs: int, channels: int, norm: NormName) -> nn.Module:
    if method == "sum":
        return SumMerge()
    if method == "weighted":
        return WeightedMerge(num_inputs)
    if method == "concat":
        return ConcatMerge(num_inputs, channels, norm)
    if method == "attention":
        return AttentionMerge(num_inputs, channels)
    raise ValueError(f"fuse_method={method!r} is not supported; choose one of {FUSE_METHODS}")
