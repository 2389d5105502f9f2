"""HRNet as the backbone of torchvision's Mask R-CNN: the detection task's Faster R-CNN (HRNet +
HRFPN, anchors, RPN, box head) with the mask branch that torchvision's `MaskRCNN` adds.

The mask branch is the official one (mmdetection's `mask_rcnn_hrnetv2p_*`, Mask R-CNN's FCN head):
RoIAlign to 14 x 14 (sampling ratio 2) over the four finest levels, four 3x3 convs of 256 channels,
a 2x transposed conv, and a 1x1 conv to one 28 x 28 mask logit per class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign

from hrnet_lit.detection.detector import DetectorConfig, HRNetFasterRCNN, HRNetPyramid
from hrnet_lit.models import checks


@dataclass(frozen=True)
class MaskRCNNConfig(DetectorConfig):
    """The detector's knobs (`DetectorConfig`) and the mask branch's; defaults: the official
    HRNetV2p Mask R-CNN.

    Args:
        mask_roi_size: RoIAlign output of the mask branch (the predicted masks are twice this).
        mask_head_width / mask_head_convs: channels and number of the mask head's 3x3 convs (the
            transposed conv keeps the width).
    """

    mask_roi_size: int = 14
    mask_head_width: int = 256
    mask_head_convs: int = 4

    def box_config(self) -> DetectorConfig:
        """The detector's own knobs, without the mask branch's."""
        return DetectorConfig(**{f.name: getattr(self, f.name) for f in fields(DetectorConfig)})


MASK_FIELDS = tuple(f.name for f in fields(MaskRCNNConfig) if f.name not in asdict(DetectorConfig()))


class HRNetMaskRCNN(HRNetFasterRCNN):
    """`HRNetFasterRCNN` with torchvision's mask branch in its RoI heads, so that it computes what
    torchvision's `MaskRCNN` computes: in training the losses add `loss_mask`, in evaluation each
    detection adds `masks` (D, 1, H, W), per-pixel probabilities at the input image's size.

    `num_classes` counts object classes (torchvision adds the background). On the meta device the
    cost count runs the mask branch on the `box_detections_per_img` detections a test image keeps at
    most; ONNX covers the dense part only, as for the detector.
    """

    onnx_name = "Mask R-CNN"
    onnx_left_out = "the RPN, NMS, the RoI box and mask heads and the pasting of masks"

    def __init__(self, pyramid: HRNetPyramid, num_classes: int, detector: MaskRCNNConfig) -> None:
        for name in MASK_FIELDS:
            checks.positive_int(f"detector.{name}", getattr(detector, name))
        super().__init__(pyramid, num_classes, detector.box_config())
        width, levels = pyramid.out_channels, self.roi_heads.box_roi_pool.featmap_names
        self.roi_heads.mask_roi_pool = MultiScaleRoIAlign(levels, detector.mask_roi_size, sampling_ratio=2)
        layers = (detector.mask_head_width,) * detector.mask_head_convs
        self.roi_heads.mask_head = MaskRCNNHeads(width, layers, dilation=1)
        self.roi_heads.mask_predictor = MaskRCNNPredictor(
            layers[-1], detector.mask_head_width, num_classes + 1
        )

    def _cost_forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        found = super()._cost_forward(images)
        heads = self.roi_heads
        size = heads.mask_roi_pool.output_size
        roi = next(self.parameters()).new_zeros(1, self.backbone.out_channels, *size)
        for _ in range(heads.detections_per_img * len(images)):
            heads.mask_predictor(heads.mask_head(roi))
        return found
