"""The instance segmentation network, without Lightning: `InstanceTask.build_network` is this builder,
and the tools reach it by the task's name alone. The defaults are the task's own."""

from __future__ import annotations

from hrnet_lit.detection.network import build_pyramid
from hrnet_lit.detection.pyramid import DetHead
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
    """Mask R-CNN over the detector's HRNet and pyramid (`build_pyramid`)."""
    return HRNetMaskRCNN(build_pyramid(backbone, head, detector.box_config()), num_classes, detector)
