"""The task layer each official repository puts on top of a representation head."""

from __future__ import annotations

import torch
from torch import nn

from hrnet_lit.models import checks
from hrnet_lit.models.blocks import NormName, make_norm


class PixelClassifier(nn.Sequential):
    """The official segmentation `last_layer`: 1x1 conv (C->C) + norm + ReLU + 1x1 conv (C->K)."""

    def __init__(self, in_channels: int, num_classes: int, norm: NormName = "batch") -> None:
        checks.positive_int("num_classes", num_classes)
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 1),
            make_norm(norm, in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, num_classes, 1),
        )


def heatmap_layer(in_channels: int, num_joints: int) -> nn.Conv2d:
    """The official pose `final_layer`: a 1x1 conv to one heatmap per joint, initialised as the official
    `init_weights` does (normal, std 0.001, zero bias): the first heatmaps are near zero, not the
    default init's noise, which an MSE to sparse Gaussians first spends many updates removing."""
    checks.positive_int("num_joints", num_joints)
    return heatmap_init(nn.Conv2d(in_channels, num_joints, 1))


def heatmap_init(conv: nn.Conv2d) -> nn.Conv2d:
    """The official heatmap tasks' `init_weights` of the conv that gives the heatmaps: normal weights
    (std 0.001), zero bias."""
    nn.init.normal_(conv.weight, std=0.001)
    nn.init.zeros_(conv.bias)
    return conv


class FinestLevel(nn.Module):
    """Pick the stride-4 level of a feature pyramid (V2p) for a dense classifier."""

    def forward(self, levels: list[torch.Tensor]) -> torch.Tensor:
        return levels[0]
