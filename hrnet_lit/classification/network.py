"""The classification network (HRNet-C), without Lightning: `ClassificationTask.build_network` is this
builder, and the tools reach it by the task's name alone. The defaults are the task's own."""

from __future__ import annotations

from typing import Literal, get_args

from hrnet_lit.errors import InputError
from hrnet_lit.models import ClsHead, HRNetModel
from hrnet_lit.models.config import BackboneConfig

ClsHeadName = Literal["cls"]
# The official classification network fuses with nearest upsampling (the segmentation one bilinearly).
BACKBONE = BackboneConfig(upsample_mode="nearest")
HEAD: ClsHeadName = "cls"
NUM_CLASSES = 1000  # ImageNet
OUTPUT_ARG = "num_classes"  # the argument that sizes the output space (HRNetTask.output_arg)


def build_network(
    backbone: BackboneConfig = BACKBONE, head: ClsHeadName = HEAD, num_classes: int = NUM_CLASSES
) -> HRNetModel:
    """Backbone + HRNet-C head (incre / downsample / final layers, pool, K-way linear)."""
    if head not in get_args(ClsHeadName):
        raise InputError(f"head={head!r} is not a classification head; choose one of {get_args(ClsHeadName)}")
    net = backbone.build(head)
    return HRNetModel(net, ClsHead(net.feature_info.channels(), num_classes, net.norm))
