"""HRNet as the backbone of torchvision's Faster R-CNN (the paper's HRNetV2p detector, Fig. 4c).

torchvision's `FasterRCNN` takes any backbone that returns an ordered dict of same-width maps and
has `out_channels`; `HRNetPyramid` is that: HRNet + V2p (HRFPN, five levels at strides 4 ... 64),
or, for the paper's head ablation, HRNet + V1 / V2 reduced to one stride-4 map by a 1x1 conv.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD
from hrnet_lit.detection.pyramid import DetHead, HRNetPyramid
from hrnet_lit.detection.rcnn_parts import (
    BorderRPN,
    FlooredMatcher,
    OfficialRoIHeads,
    Rounding,
    RoundingTransform,
    StridedAnchorGenerator,
)
from hrnet_lit.errors import InputError
from hrnet_lit.models import checks
from hrnet_lit.models.fusion import UPSAMPLE_MODES, UpsampleMode

__all__ = ["DetHead", "DetectorConfig", "HRNetFasterRCNN", "HRNetPyramid"]

Init = Literal["official", "torch"]

# The official anchors: one size per level, 8 x its stride (4 ... 64), three aspect ratios.
ANCHOR_SIZES: tuple[int, ...] = (32, 64, 128, 256, 512)
STRIDES: tuple[int, ...] = (4, 8, 16, 32, 64)
ASPECT_RATIOS: tuple[float, ...] = (0.5, 1.0, 2.0)
ROI_LEVELS = 4  # RoIAlign reads the four finest levels (strides 4 ... 32), as the official config


@dataclass(frozen=True)
class DetectorConfig:
    """The detector around the HRNet: resize, neck, anchors, RPN and RoI head. The defaults are the
    official HRNetV2p Faster R-CNN (HRNet-Object-Detection's `faster_rcnn_hrnetv2p_w32_1x`, on
    mmdetection v1), so a config changes only what it means to change; docs/detection.md lists
    each setting against the official value.

    Args:
        min_size / max_size: the resize: shorter side `min_size`, longer at most `max_size`.
        resize_rounding: the resized size `round`s half up as mmcv's `int(h * s + 0.5)` (official)
            or `floor`s as torchvision.
        size_divisible: the batch is zero-padded to a multiple of this (official 32).
        norm_eval / frozen_stages: the backbone's BatchNorm in eval mode while training, and the
            frozen stages (`HRNetPyramid`).
        fpn_channels: width of every pyramid level (HRFPN's 1x1 reduction), and of the RPN head.
        neck_upsample_mode / neck_align_corners: the V2 / V2p concatenation's upsampling (the
            backbone's fusion has its own: `--model.backbone.upsample_mode`).
        neck_ceil_mode: HRFPN's pools round up (official: down).
        anchor_center_offset: anchor centres at (k + offset) x stride: 0.5 the official, 0 torchvision's.
        rpn_allowed_border: the RPN learns only from anchors inside the image widened by this many
            pixels (official 0); negative: from every anchor (torchvision).
        rpn_low_quality_min_iou: a ground truth's best anchors become positive below the 0.7
            threshold only if their IoU reaches this (official 0.3; 0: no floor, as torchvision).
        rpn_pre_nms_top_n_train / _test: proposals per level kept before NMS.
        rpn_post_nms_top_n_train / _test: proposals per image kept after NMS.
        rpn_batch_size_per_image: anchors sampled per image for the RPN loss.
        box_head_width: width of the two fully connected layers of the RoI box head.
        box_batch_size_per_image: proposals sampled per image for the RoI head loss.
        box_loss_beta: SmoothL1 beta of the RoI box regression (official 1.0; torchvision 1/9).
        box_low_quality_min_iou: the R-CNN assigner's low-quality floor (official 0.5: with both IoU
            thresholds at 0.5 it only hands a proposal claimed by two ground truths to the later).
        box_score_thresh / box_nms_thresh / box_detections_per_img: what a detection must score, the
            NMS IoU, and how many detections an image keeps (COCO's 100).
        init: `official`: HRFPN's convs and the box head initialised as the official code; `torch`:
            PyTorch's and torchvision's defaults.
    """

    min_size: int = 800
    max_size: int = 1333
    resize_rounding: Rounding = "round"
    size_divisible: int = 32
    norm_eval: bool = True
    frozen_stages: int = -1
    fpn_channels: int = 256
    neck_upsample_mode: UpsampleMode = "bilinear"
    neck_align_corners: bool = False
    neck_ceil_mode: bool = False
    anchor_center_offset: float = 0.5
    rpn_allowed_border: int = 0
    rpn_low_quality_min_iou: float = 0.3
    rpn_pre_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_test: int = 2000
    rpn_batch_size_per_image: int = 256
    box_head_width: int = 1024
    box_batch_size_per_image: int = 512
    box_loss_beta: float = 1.0
    box_low_quality_min_iou: float = 0.5
    box_score_thresh: float = 0.05
    box_nms_thresh: float = 0.5
    box_detections_per_img: int = 100
    init: Init = "official"

    def check(self) -> None:
        """Every knob against what it accepts, naming it (`detector.<name>`)."""
        fractions = (
            "box_score_thresh",
            "box_nms_thresh",
            "rpn_low_quality_min_iou",
            "box_low_quality_min_iou",
        )
        choices = {
            "resize_rounding": get_args(Rounding),
            "neck_upsample_mode": UPSAMPLE_MODES,
            "init": get_args(Init),
        }
        for name, value in asdict(self).items():
            key = f"detector.{name}"
            if name in fractions:
                if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                    raise InputError(f"{key}={value!r} must be in [0, 1]")
            elif name in choices:
                checks.one_of(key, value, choices[name])
            elif name in ("norm_eval", "neck_align_corners", "neck_ceil_mode"):
                checks.flag(key, value)
            elif name == "rpn_allowed_border":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise InputError(f"{key}={value!r} must be a whole number of pixels (negative: off)")
            elif name == "frozen_stages":
                if value not in (-1, 0, 1, 2, 3, 4) or isinstance(value, bool):
                    raise InputError(f"{key}={value!r} must be -1 (none), 0 (the stem) or a stage 1 ... 4")
            elif name == "anchor_center_offset":
                if not (isinstance(value, int | float) and 0.0 <= value < 1.0):
                    raise InputError(f"{key}={value!r} must be in [0, 1) (a fraction of the stride)")
            elif name == "box_loss_beta":
                if not (isinstance(value, int | float) and value > 0):
                    raise InputError(f"{key}={value!r} must be positive")
            else:
                checks.positive_int(key, value)
        if self.min_size > self.max_size:
            raise InputError(f"detector.min_size={self.min_size} exceeds detector.max_size={self.max_size}")


class HRNetFasterRCNN(FasterRCNN):
    """torchvision's Faster R-CNN over an `HRNetPyramid` with the official anchors, RoIAlign (7x7,
    sampling ratio 2, torchvision's `aligned=False`: the official kernel in continuous coordinates)
    and training rules (`DetectorConfig`), plus what the tools need from a two-stage detector.

    `num_classes` counts object classes; torchvision adds the background class 0. Images go in as
    0-1 floats of any size: the detector's own transform resizes them (`detector.min_size`,
    `max_size`) and normalises them with the ImageNet statistics, as the backbone's pretrained
    weights expect. Boxes are continuous xyxy pixels (torchvision's): the official +1 width
    convention is the same arithmetic under x2 = x2_official + 1 (docs/detection.md).

    On the meta device (where `summary` counts the cost) the data-dependent steps (proposal
    selection, NMS, RoIAlign's level assignment) cannot run; `forward` then runs every layer as a
    test image does, the box head on the `rpn_post_nms_top_n_test` proposals a test image keeps at
    most, and returns no detections. ONNX covers the dense part only (`onnx_part`).
    """

    onnx_name = "Faster R-CNN"  # the ONNX note's name of the detector, and what stays in PyTorch
    onnx_left_out = "the RPN, NMS and the RoI heads"

    def __init__(self, pyramid: HRNetPyramid, num_classes: int, detector: DetectorConfig) -> None:
        checks.positive_int("num_classes", num_classes)
        detector.check()
        width, fc_width = detector.fpn_channels, detector.box_head_width
        levels = pyramid.num_levels
        if levels > 1:
            sizes, ratios, strides = tuple((s,) for s in ANCHOR_SIZES), (ASPECT_RATIOS,) * levels, STRIDES
            roi_levels = [str(k) for k in range(ROI_LEVELS)]
        else:
            sizes, ratios, strides = (ANCHOR_SIZES,), (ASPECT_RATIOS,), STRIDES[:1]
            roi_levels = ["0"]
        anchors = StridedAnchorGenerator(sizes, ratios, strides, detector.anchor_center_offset)
        super().__init__(
            pyramid,
            rpn_anchor_generator=anchors,
            box_roi_pool=MultiScaleRoIAlign(roi_levels, output_size=7, sampling_ratio=2),
            box_head=TwoMLPHead(width * 7 * 7, fc_width),
            box_predictor=FastRCNNPredictor(fc_width, num_classes + 1),
        )  # its transform, RPN and RoI heads are replaced by the extended ones below
        self.size_divisible = detector.size_divisible
        self.transform = RoundingTransform(
            detector.min_size,
            detector.max_size,
            list(IMAGENET_MEAN),
            list(IMAGENET_STD),
            size_divisible=detector.size_divisible,
            rounding=detector.resize_rounding,
        )
        self.rpn = BorderRPN(
            anchors,
            self.rpn.head,
            0.7,  # the official (and torchvision's) RPN IoU thresholds, sampler and NMS
            0.3,
            detector.rpn_batch_size_per_image,
            0.5,
            {"training": detector.rpn_pre_nms_top_n_train, "testing": detector.rpn_pre_nms_top_n_test},
            {"training": detector.rpn_post_nms_top_n_train, "testing": detector.rpn_post_nms_top_n_test},
            0.7,
            allowed_border=detector.rpn_allowed_border,
        )
        self.rpn.proposal_matcher = FlooredMatcher(0.7, 0.3, detector.rpn_low_quality_min_iou)
        heads = self.roi_heads
        self.roi_heads = OfficialRoIHeads(
            heads.box_roi_pool,
            heads.box_head,
            heads.box_predictor,
            0.5,  # the official (and torchvision's) R-CNN IoU thresholds and sampler
            0.5,
            detector.box_batch_size_per_image,
            0.25,
            None,
            detector.box_score_thresh,
            detector.box_nms_thresh,
            detector.box_detections_per_img,
            box_loss_beta=detector.box_loss_beta,
            min_low_quality=detector.box_low_quality_min_iou,
        )
        if detector.init == "official":
            self.init_official()

    def init_official(self) -> None:
        """The official initialisation of what the ImageNet weights do not cover: HRFPN (see
        `HRNetPyramid.init_official`); the box head's fully connected layers `xavier_uniform_`, bias 0
        (mmdetection v1 `ConvFCBBoxHead`); classifier normal std 0.01, box regressor std 0.001, bias 0
        (`BBoxHead`). The RPN head's normal std 0.01 is torchvision's own, as the official."""
        self.backbone.init_official()
        for fc in (self.roi_heads.box_head.fc6, self.roi_heads.box_head.fc7):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.zeros_(fc.bias)
        predictor = self.roi_heads.box_predictor
        for layer, std in ((predictor.cls_score, 0.01), (predictor.bbox_pred, 0.001)):
            nn.init.normal_(layer.weight, std=std)
            nn.init.zeros_(layer.bias)

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
            f"ONNX export of a {self.onnx_name} covers its dense part: a 0-1 image, normalised with the "
            "ImageNet statistics, through the HRNet and its pyramid to the "
            f"{self.backbone.num_levels} feature map(s) ('output0' finest, stride 4). Resizing, "
            f"padding to a multiple of {self.size_divisible}, {self.onnx_left_out} stay in PyTorch."
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
