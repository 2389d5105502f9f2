"""The detection network, without Lightning: `DetectionTask.build_network` is this builder, and the
tools reach it by the task's name alone. The defaults are the task's own.

`build_pyramid` is the HRNet + neck (HRFPN for `v2p`) alone, as any torchvision two-stage detector
(Faster R-CNN here, Mask R-CNN too) takes it as its `backbone`."""

from __future__ import annotations

from typing import get_args

from hrnet_lit.detection.detector import DetectorConfig, HRNetFasterRCNN
from hrnet_lit.detection.pyramid import DetHead, HRNetPyramid
from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig

BACKBONE = BackboneConfig()
HEAD: DetHead = "v2p"
NUM_CLASSES = 80  # COCO
OUTPUT_ARG = "num_classes"  # the argument that sizes the output space (HRNetTask.output_arg)
DETECTOR = DetectorConfig()


def build_pyramid(
    backbone: BackboneConfig = BACKBONE, head: DetHead = HEAD, detector: DetectorConfig = DETECTOR
) -> HRNetPyramid:
    """The HRNet (fusing as `backbone.upsample_mode` says) and its neck, with the neck, BatchNorm and
    freezing knobs of `detector` (`fpn_channels`, `neck_*`, `norm_eval`, `frozen_stages`). Not
    initialised the official way: the detector does that (`init`), with its heads."""
    if head not in get_args(DetHead):
        raise InputError(f"head={head!r} is not a detection head; choose one of {get_args(DetHead)}")
    detector.check()
    return HRNetPyramid(
        backbone.build(head),
        head,
        detector.fpn_channels,
        upsample_mode=detector.neck_upsample_mode,
        align_corners=detector.neck_align_corners,
        ceil_mode=detector.neck_ceil_mode,
        norm_eval=detector.norm_eval,
        frozen_stages=detector.frozen_stages,
    )


def build_network(
    backbone: BackboneConfig = BACKBONE,
    head: DetHead = HEAD,
    num_classes: int = NUM_CLASSES,
    detector: DetectorConfig = DETECTOR,
) -> HRNetFasterRCNN:
    """Faster R-CNN over the HRNet and its pyramid (`build_pyramid`)."""
    return HRNetFasterRCNN(build_pyramid(backbone, head, detector), num_classes, detector)
