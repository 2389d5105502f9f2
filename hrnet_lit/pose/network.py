"""The pose network, without Lightning: `PoseTask.build_network` is this builder, and the tools reach
it by the task's name alone. The defaults are the task's own."""

from __future__ import annotations

from typing import Literal, get_args

from hrnet_lit.errors import InputError
from hrnet_lit.models import HRNetModel, V1Head, V2Head
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.task_layers import heatmap_layer

PoseHead = Literal["v1", "v2"]
# The official pose network fuses with nearest upsampling (the segmentation one bilinearly).
BACKBONE = BackboneConfig(upsample_mode="nearest")
HEAD: PoseHead = "v1"
NUM_JOINTS = 17  # COCO
OUTPUT_ARG = "num_joints"  # the argument that sizes the output space (HRNetTask.output_arg)


def build_network(
    backbone: BackboneConfig = BACKBONE, head: PoseHead = HEAD, num_joints: int = NUM_JOINTS
) -> HRNetModel:
    """Backbone + head + the official 1x1 `final_layer` to one heatmap per joint at 1/4 of the input.
    `v1` is the official network; `v2` (all branches upsampled and concatenated) is for ablations."""
    if head not in get_args(PoseHead):
        raise InputError(f"model.head={head!r} is not a pose head; choose one of {get_args(PoseHead)}")
    net = backbone.build(head)
    channels = net.feature_info.channels()
    rep = V1Head(channels) if head == "v1" else V2Head(channels, net.upsample_mode, net.align_corners)
    return HRNetModel(net, rep, heatmap_layer(rep.out_channels, num_joints))
