"""The instance segmentation network, without Lightning: `InstanceTask.build_network` is this builder,
and the tools reach it by the task's name alone. The defaults are the task's own."""

from __future__ import annotations

from typing import get_args

from hrnet_lit.detection.detector import DetHead, HRNetPyramid
from hrnet_lit.errors import InputError
from hrnet_lit.instance.detector import HRNetMaskRCNN, MaskRCNNConfig
from hrnet_lit.models.config import BackboneConfig

BACKBONE = BackboneConfig()
HEAD: DetHead = "v2p"
NUM_CLASSES = 80  # COCO
OUTPUT_ARG = "num_classes"  # the argument that sizes the output space (HRNetTask.output_arg)
DETECTOR = MaskRCNNConfig()


def build_network(
    backbone: BackboneConfig = BACKBONE,
    head: DetHead = HEAD,
    num_classes: int = NUM_CLASSES,
    detector: MaskRCNNConfig = DETECTOR,
) -> HRNetMaskRCNN:
    """Mask R-CNN over the HRNet and its pyramid (`detector.fpn_channels` wide)."""
    if head not in get_args(DetHead):
        raise InputError(f"head={head!r} is not a detection head; choose one of {get_args(DetHead)}")
    net = backbone.build(head)
    return HRNetMaskRCNN(HRNetPyramid(net, head, detector.fpn_channels), num_classes, detector)
