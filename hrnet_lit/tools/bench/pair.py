"""The two sides `hrnet-lit bench` compares: a task's network, and the same with timm's HRNet."""

from __future__ import annotations

import copy
from typing import Any

import timm
import torch
from torch import nn

from hrnet_lit.detection.pyramid import HRNetPyramid
from hrnet_lit.errors import InputError
from hrnet_lit.models import HRNetModel, load_pretrained
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.heads import ClsHead
from hrnet_lit.tools.bench.config import BenchConfig
from hrnet_lit.tools.network_args import NetworkArgs

TIMM_NAMES = {"w18_small_v1": "hrnet_w18_small", "w18_small_v2": "hrnet_w18_small_v2"}


DENSE_PART = "HRNet + neck, the detector's dense part"


def compared_part(config: BenchConfig) -> str:
    """What of the task's network `bench` times: all of it, or a detector's dense part."""
    with torch.device("meta"):
        net = NetworkArgs(
            config.task, BackboneConfig(preset=config.preset), config.head, config.num_classes
        ).build()
    return DENSE_PART if isinstance(getattr(net, "backbone", None), HRNetPyramid) else "the whole network"


def our_network(config: BenchConfig, upsample_mode: str = "nearest") -> HRNetModel:
    """The task's network for `config` (its `build_network`), fusing as timm does (nearest). Of a
    detector, the dense part (HRNet and neck, as an `HRNetModel`): its proposals, RoI sampling and
    heads depend on the data and have no timm counterpart."""
    backbone = BackboneConfig(
        preset=config.preset, upsample_mode=upsample_mode, grad_checkpointing=config.grad_checkpointing
    )
    net = NetworkArgs(config.task, backbone, config.head, config.num_classes).build()
    pyramid = getattr(net, "backbone", None)
    if isinstance(pyramid, HRNetPyramid):
        return HRNetModel(pyramid.backbone, pyramid.head, pyramid.reduce)
    if not isinstance(net, HRNetModel):
        raise InputError(f"bench cannot compare task {config.task}'s {type(net).__name__} with timm's HRNet")
    return net


class TimmNetwork(nn.Module):
    """timm's HRNet feature extractor under our head and task layer."""

    def __init__(self, features: nn.Module, head: nn.Module, task_layer: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = head
        self.task_layer = task_layer

    def forward(self, x: torch.Tensor) -> Any:
        return self.task_layer(self.head(self.features(x)))


def build_pair(config: BenchConfig) -> tuple[nn.Module, nn.Module]:
    """(ours, timm's), computing the same function with the same weights, on the CPU in fp32.

    With the v1 head our last module fuses only into the branch the head reads; timm's still
    fuses into all four, so that side does more work.
    """
    name = TIMM_NAMES.get(config.preset, f"hrnet_{config.preset}")
    ours = our_network(config)
    if isinstance(ours.head, ClsHead):
        reference = timm.create_model(name, num_classes=config.num_classes)
        load_pretrained(ours, reference.state_dict())
        return ours, reference
    features = timm.create_model(name, features_only=True, feature_location="", out_indices=(1, 2, 3, 4))
    load_pretrained(ours, features.state_dict())
    return ours, TimmNetwork(features, copy.deepcopy(ours.head), copy.deepcopy(ours.task_layer))
