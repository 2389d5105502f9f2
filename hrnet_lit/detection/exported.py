"""The detection task as one ONNX-ready model: the whole Faster R-CNN (resize, normalisation, HRNet
and pyramid, RPN, RoI heads, NMS, boxes back in the input image's pixels), for one uint8 RGB image.

torchvision's detectors export through the TorchScript-based exporter (`torch.onnx.export(...,
dynamo=False)`): torch.export cannot follow their data-dependent shapes (proposals kept, NMS). Under
tracing every size must be a traced tensor, or it is frozen at the example's value: the forward
below is `GeneralizedRCNN.forward` in evaluation, with the resize written in tensor arithmetic (the
same sizes as the detector's `RoundingTransform`, round or floor) and the boxes scaled back by it.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.onnx.operators import shape_as_tensor
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.transform import resize_boxes

from hrnet_lit.common.exportable import WholeModel
from hrnet_lit.detection.detector import HRNetFasterRCNN
from hrnet_lit.detection.task import DetectionTask


class ExportedDetector(WholeModel):
    """uint8 RGB image (3, H, W) -> `boxes` (D, 4: x1, y1, x2, y2 in the input's pixels), `labels`
    (D, int64: 1 ... num_classes, 0 being the background) and `scores` (D): what the detector in
    evaluation returns for it, D <= `box_detections_per_img`. One image per call (the batch is the
    detector's list of images, which ONNX has no type for); H and W are dynamic."""

    output_names: ClassVar[tuple[str, ...]] = ("boxes", "labels", "scores")
    dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {
        "image_uint8_rgb": {1: "height", 2: "width"},
        "boxes": {0: "detections"},
        "labels": {0: "detections"},
        "scores": {0: "detections"},
    }
    batched = False

    def __init__(self, detector: HRNetFasterRCNN) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        detector = self.detector
        transform = detector.transform
        original = shape_as_tensor(image)[1:]
        resized = self.resize(transform.normalize(image.float() / 255.0), original)
        size = shape_as_tensor(resized)[1:]
        batch = transform.batch_images([resized], size_divisible=transform.size_divisible)
        images = ImageList(batch, [(size[0], size[1])])
        features = detector.backbone(images.tensors)
        proposals, _ = detector.rpn(images, features)
        found, _ = detector.roi_heads(features, proposals, images.image_sizes)
        return self.outputs(found[0], images.image_sizes[0], (original[0], original[1]))

    def resize(self, image: Tensor, original: Tensor) -> Tensor:
        """The detector's resize (`RoundingTransform.resize` in evaluation) with the size computed
        from traced tensors: shorter side to `min_size`, longer at most `max_size`, in double as
        both compute it, rounded half up (`round`: mmcv's `int(h * s + 0.5)`) or down (`floor`:
        torchvision's)."""
        transform = self.detector.transform
        hw = original.double()
        scale = torch.min(transform.min_size[-1] / hw.min(), transform.max_size / hw.max())
        exact = hw * scale
        size = (exact + 0.5 if getattr(transform, "rounding", "floor") == "round" else exact).floor().long()
        return F.interpolate(image[None], size=(size[0], size[1]), mode="bilinear", align_corners=False)[0]

    def outputs(
        self, found: dict[str, Tensor], size: tuple[Tensor, Tensor], original: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, ...]:
        return (resize_boxes(found["boxes"], size, original), found["labels"], found["scores"])


def whole_model(task: DetectionTask, input_size: tuple[int, int]) -> ExportedDetector:
    """The task's whole inference (any input size: `input_size` is only the export's example)."""
    return ExportedDetector(task.net)


@torch.no_grad()
def reference(task: DetectionTask, image: Tensor) -> dict[str, Tensor]:
    """The task's detector in eval mode (torchvision's forward) on one uint8 RGB image (3, H, W)."""
    return dict(task.net([image.float() / 255.0])[0])
