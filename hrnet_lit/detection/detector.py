"""HRNet as the backbone of torchvision's Faster R-CNN (the paper's HRNetV2p detector, Fig. 4c).

torchvision's `FasterRCNN` takes any backbone that returns an ordered dict of same-width maps and
has `out_channels`; `HRNetPyramid` is that: HRNet + V2p (HRFPN, five levels at strides 4 ... 64),
or, for the paper's head ablation, HRNet + V1 / V2 reduced to one stride-4 map by a 1x1 conv.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD
from hrnet_lit.errors import InputError
from hrnet_lit.models import checks
from hrnet_lit.models.heads import V1Head, V2Head, V2pHead
from hrnet_lit.models.hrnet import HRNet

DetHead = Literal["v2p", "v1", "v2"]

# The official anchors: one size per level, 8 x its stride (4 ... 64), three aspect ratios.
ANCHOR_SIZES: tuple[int, ...] = (32, 64, 128, 256, 512)
ASPECT_RATIOS: tuple[float, ...] = (0.5, 1.0, 2.0)
ROI_LEVELS = 4  # RoIAlign reads the four finest levels (strides 4 ... 32), as the official config
# torchvision infers each level's stride from the padded image size; a multiple of the coarsest
# stride (64) makes every inferred stride exact.
SIZE_DIVISIBLE = 64


class HRNetPyramid(nn.Module):
    """HRNet + representation head as a detection backbone: `forward` returns an ordered dict of maps
    ('0' finest) that all have `out_channels` channels.

    `v2p` is HRFPN (five levels); `v1` / `v2` give their stride-4 representation alone, after a 1x1
    conv to `out_channels`, so that the RPN and RoI heads are the same width for every head.
    """

    def __init__(self, backbone: HRNet, head: DetHead, out_channels: int = 256) -> None:
        super().__init__()
        checks.positive_int("detector.fpn_channels", out_channels)
        self.backbone = backbone
        # V2 / V2p upsample as the backbone's fusions do (the official single ALIGN_CORNERS setting).
        resize = {"upsample_mode": backbone.upsample_mode, "align_corners": backbone.align_corners}
        channels = backbone.feature_info.channels()
        if head == "v2p":
            self.head: nn.Module = V2pHead(channels, out_channels, 5, **resize)
            self.reduce: nn.Module = nn.Identity()
        else:
            self.head = V1Head(channels) if head == "v1" else V2Head(channels, **resize)
            self.reduce = nn.Conv2d(self.head.out_channels, out_channels, 1)
        self.out_channels = out_channels
        self.num_levels = 5 if head == "v2p" else 1

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.head(self.backbone(x))
        if isinstance(features, torch.Tensor):
            features = [self.reduce(features)]
        return OrderedDict((str(k), f) for k, f in enumerate(features))


@dataclass(frozen=True)
class DetectorConfig:
    """torchvision Faster R-CNN's knobs around the HRNet pyramid; defaults: the official HRNetV2p
    Faster R-CNN (mmdetection), so a config changes only what it means to change.

    Args:
        min_size / max_size: the detector's resize: shorter side `min_size`, longer at most `max_size`.
        fpn_channels: width of every pyramid level (HRFPN's 1x1 reduction), and of the RPN head.
        box_head_width: width of the two fully connected layers of the RoI box head.
        rpn_pre_nms_top_n_train / _test: proposals per level kept before NMS.
        rpn_post_nms_top_n_train / _test: proposals per image kept after NMS.
        rpn_batch_size_per_image: anchors sampled per image for the RPN loss.
        box_batch_size_per_image: proposals sampled per image for the RoI head loss.
        box_score_thresh / box_nms_thresh / box_detections_per_img: what a detection must score, the
            NMS IoU, and how many detections an image keeps (COCO's 100).
    """

    min_size: int = 800
    max_size: int = 1333
    fpn_channels: int = 256
    box_head_width: int = 1024
    rpn_pre_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_train: int = 1000
    rpn_post_nms_top_n_test: int = 1000
    rpn_batch_size_per_image: int = 256
    box_batch_size_per_image: int = 512
    box_score_thresh: float = 0.05
    box_nms_thresh: float = 0.5
    box_detections_per_img: int = 100

    def check(self) -> None:
        for name, value in asdict(self).items():
            if name in ("box_score_thresh", "box_nms_thresh"):
                if not 0.0 <= value <= 1.0:
                    raise InputError(f"detector.{name}={value!r} must be in [0, 1]")
            else:
                checks.positive_int(f"detector.{name}", value)
        if self.min_size > self.max_size:
            raise InputError(f"detector.min_size={self.min_size} exceeds detector.max_size={self.max_size}")


class HRNetFasterRCNN(FasterRCNN):
    """torchvision's Faster R-CNN over an `HRNetPyramid` with the official anchors and RoIAlign (7x7,
    sampling ratio 2), plus what the tools need from a two-stage detector.

    `num_classes` counts object classes; torchvision adds the background class 0. Images go in as
    0-1 floats of any size: the detector's own transform resizes them (`detector.min_size`,
    `max_size`) and normalises them with the ImageNet statistics, as the backbone's pretrained
    weights expect.

    On the meta device (where `summary` counts the cost) the data-dependent steps (proposal
    selection, NMS, RoIAlign's level assignment) cannot run; `forward` then runs every layer as a
    test image does, the box head on the `rpn_post_nms_top_n_test` proposals a test image keeps at
    most, and returns no detections. ONNX covers the dense part only (`onnx_part`).
    """

    def __init__(self, pyramid: HRNetPyramid, num_classes: int, detector: DetectorConfig) -> None:
        checks.positive_int("num_classes", num_classes)
        detector.check()
        knobs = asdict(detector)
        width, fc_width = knobs.pop("fpn_channels"), knobs.pop("box_head_width")
        if pyramid.num_levels > 1:
            levels = len(ANCHOR_SIZES)
            anchors = AnchorGenerator(tuple((s,) for s in ANCHOR_SIZES), (ASPECT_RATIOS,) * levels)
            roi_levels = [str(k) for k in range(ROI_LEVELS)]
        else:
            anchors = AnchorGenerator((ANCHOR_SIZES,), (ASPECT_RATIOS,))
            roi_levels = ["0"]
        super().__init__(
            pyramid,
            image_mean=list(IMAGENET_MEAN),
            image_std=list(IMAGENET_STD),
            rpn_anchor_generator=anchors,
            box_roi_pool=MultiScaleRoIAlign(roi_levels, output_size=7, sampling_ratio=2),
            box_head=TwoMLPHead(width * 7 * 7, fc_width),
            box_predictor=FastRCNNPredictor(fc_width, num_classes + 1),
            size_divisible=SIZE_DIVISIBLE,
            **knobs,
        )

    def forward(self, images: Any, targets: Any = None) -> Any:
        if not self.training and _on_meta(images):
            return self._cost_forward(list(images))
        return super().forward(images, targets)

    def _cost_forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        batch, _ = self.transform(images)
        features = self.backbone(batch.tensors)
        self.rpn.head(list(features.values()))
        pooled = self.roi_heads.box_roi_pool.output_size
        roi = features["0"].new_zeros(1, self.backbone.out_channels, *pooled)
        # One proposal at a time: a cost count reads the first sample of each layer's output.
        for _ in range(self.rpn.post_nms_top_n() * len(images)):
            self.roi_heads.box_predictor(self.roi_heads.box_head(roi))
        return [{} for _ in images]

    def onnx_part(self) -> tuple[nn.Module, str]:
        """The part of the detector that ONNX export covers, and a sentence saying so."""
        note = (
            "ONNX export of a Faster R-CNN covers its dense part: a 0-1 image, normalised with the "
            "ImageNet statistics, through the HRNet and its pyramid to the "
            f"{self.backbone.num_levels} feature map(s) ('output0' finest, stride 4). Resizing, "
            f"padding to a multiple of {SIZE_DIVISIBLE}, the RPN, NMS and the RoI heads stay in PyTorch."
        )
        return DensePart(self), note


class DensePart(nn.Module):
    """0-1 image -> normalised -> HRNet pyramid levels as a list (what ONNX export writes)."""

    def __init__(self, detector: FasterRCNN) -> None:
        super().__init__()
        self.pyramid = detector.backbone
        self.register_buffer("mean", torch.tensor(detector.transform.image_mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(detector.transform.image_std).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        return list(self.pyramid((image - self.mean) / self.std).values())


def _on_meta(images: Any) -> bool:
    first = images if isinstance(images, torch.Tensor) else next(iter(images), None)
    return isinstance(first, torch.Tensor) and first.device.type == "meta"
