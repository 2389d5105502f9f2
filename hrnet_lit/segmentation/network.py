"""The segmentation network, without Lightning: `SegmentationTask.build_network` is this builder, and
the tools reach it by the task's name alone (so that `summary` on flags starts fast).

The defaults below are the task's own: its `__init__` takes them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import nn

from hrnet_lit.errors import InputError
from hrnet_lit.models import HRNetModel, PixelClassifier, V2pHead, build_head, checks
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.task_layers import FinestLevel

SegHead = Literal["v1", "v2", "v2p"]
BACKBONE = BackboneConfig()
HEAD: SegHead = "v2"
NUM_CLASSES = 19  # Cityscapes
OUTPUT_ARG = "num_classes"  # the argument that sizes the output space (HRNetTask.output_arg)


def build_network(
    backbone: BackboneConfig = BACKBONE, head: SegHead = HEAD, num_classes: int = NUM_CLASSES
) -> HRNetModel:
    """Backbone + representation head + the official `last_layer` classifier (at 1/4 resolution).

    V2p is classified on its finest (stride-4) level, so only that level is built. The heads upsample
    with the backbone's `upsample_mode` / `align_corners`, and so does the task (logits to the labels).
    """
    if head not in get_args(SegHead):
        raise InputError(f"head={head!r} is not a segmentation head; choose one of {get_args(SegHead)}")
    checks.positive_int("num_classes", num_classes)
    net = backbone.build(head)
    channels = net.feature_info.channels()
    resize = {"upsample_mode": net.upsample_mode, "align_corners": net.align_corners}
    if head == "v2p":
        rep: nn.Module = V2pHead(channels, num_levels=1, **resize)
        classifier: nn.Module = nn.Sequential(
            FinestLevel(), PixelClassifier(rep.out_channels, num_classes, net.norm)
        )
    else:
        rep = build_head(head, channels, **resize)
        classifier = PixelClassifier(rep.out_channels, num_classes, net.norm)
    return HRNetModel(net, rep, classifier)
