"""A whole network: backbone + representation head + task layer (each task's `build_network` makes one)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hrnet_lit.models.hrnet import HRNet


class HRNetModel(nn.Module):
    """backbone -> head -> task layer. The backbone fuses only into the branches the head reads."""

    def __init__(self, backbone: HRNet, head: nn.Module, task_layer: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.task_layer = task_layer if task_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> Any:
        return self.task_layer(self.head(self.backbone(x)))
