"""The pose network, without Lightning: `PoseTask.build_network` is this builder, and the tools reach
it by the task's name alone. The defaults are the task's own. `heatmap_network` is the shape of every
heatmap task's network (the landmark one too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from torch import nn

from hrnet_lit.errors import InputError
from hrnet_lit.models import HRNetModel, build_head
from hrnet_lit.models.blocks import NormName
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.task_layers import heatmap_layer

PoseHead = Literal["v1", "v2"]
# The official pose network fuses with nearest upsampling (the segmentation one bilinearly).
BACKBONE = BackboneConfig(upsample_mode="nearest")
HEAD: PoseHead = "v1"
NUM_JOINTS = 17  # COCO
OUTPUT_ARG = "num_joints"  # the argument that sizes the output space (HRNetTask.output_arg)


def heatmap_network(
    backbone: BackboneConfig,
    head: str,
    heads: tuple[str, ...],
    task: str,
    layer: Callable[[int, NormName], nn.Module],
) -> HRNetModel:
    """Backbone + `head` (one of the task's `heads`: `v1`, the 1/4 branch alone, C channels; `v2`, every
    branch upsampled to 1/4 as the backbone upsamples and concatenated, 15C channels) + the task's
    heatmap `layer` (from the head's channels and the backbone's norm), heatmaps at 1/4 of the input."""
    if head not in heads:
        raise InputError(f"model.head={head!r} is not a {task} head; choose one of {heads}")
    net = backbone.build(head)
    rep = build_head(
        head,  # type: ignore[arg-type]
        net.feature_info.channels(),
        upsample_mode=net.upsample_mode,
        align_corners=net.align_corners,
    )
    return HRNetModel(net, rep, layer(rep.out_channels, net.norm))


def build_network(
    backbone: BackboneConfig = BACKBONE, head: PoseHead = HEAD, num_joints: int = NUM_JOINTS
) -> HRNetModel:
    """Backbone + head + the official 1x1 `final_layer` to one heatmap per joint at 1/4 of the input.
    `v1` is the official network; `v2` (all branches upsampled and concatenated) is for ablations."""
    return heatmap_network(
        backbone, head, get_args(PoseHead), "pose", lambda channels, _: heatmap_layer(channels, num_joints)
    )
