"""A whole network: backbone + representation head + task layer, built from names and knobs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hrnet_lit.models import checks
from hrnet_lit.models.heads import HeadName, build_head, head_class
from hrnet_lit.models.hrnet import HRNet
from hrnet_lit.models.presets import preset_kwargs
from hrnet_lit.models.task_layers import PixelClassifier, heatmap_layer


class HRNetModel(nn.Module):
    """backbone -> head -> task layer. The backbone fuses only into the branches the head reads."""

    def __init__(self, backbone: HRNet, head: nn.Module, task_layer: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.task_layer = task_layer if task_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> Any:
        return self.task_layer(self.head(self.backbone(x)))


def build_backbone(head: HeadName, preset: str | None = None, **knobs: Any) -> HRNet:
    """An HRNet (a preset, with `knobs` overriding it) whose last module feeds exactly what `head` reads."""
    kwargs = {
        **(preset_kwargs(preset) if preset is not None else {}),
        **knobs,
        "num_outputs": head_class(head).num_inputs,
    }
    return HRNet(**kwargs)


def build_model(head: HeadName, num_classes: int, preset: str | None = None, **knobs: Any) -> HRNetModel:
    """The network as the official repositories build it for `head`: v1 + 1x1 heatmap conv,
    v2 + segmentation `last_layer`, cls + K-way linear, v2p alone (a detector's pyramid)."""
    checks.positive_int("num_classes", num_classes)
    backbone = build_backbone(head, preset, **knobs)
    norm = backbone.norm
    rep = build_head(
        head, backbone.out_channels, num_classes, norm, backbone.upsample_mode, backbone.align_corners
    )
    task_layer: nn.Module | None = None
    if head == "v1":
        task_layer = heatmap_layer(rep.out_channels, num_classes)
    elif head == "v2":
        task_layer = PixelClassifier(rep.out_channels, num_classes, norm)
    return HRNetModel(backbone, rep, task_layer)
