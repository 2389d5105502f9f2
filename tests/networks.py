"""A network by head name alone for the tests of the parts every task shares (fusion, fast paths,
weights): the task that reads the head, through that task's one builder (`build_network`)."""

from __future__ import annotations

from typing import Any

from torch import nn

from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.tools.network_args import NetworkArgs

# v1: the official pose network (heatmaps), v2 / v2p: segmentation, cls: HRNet-C.
HEAD_TASK = {"v1": "pose", "v2": "segmentation", "v2p": "segmentation", "cls": "classification"}


def network(head: str, num_classes: int, preset: str | None = None, **knobs: Any) -> nn.Module:
    """An unknown head goes to segmentation, whose builder refuses it by name."""
    task = HEAD_TASK.get(head, "segmentation") if isinstance(head, str) else "segmentation"
    return NetworkArgs(task, BackboneConfig(preset=preset, **knobs), head, num_classes).build()
