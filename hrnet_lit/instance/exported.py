"""The instance task as one ONNX-ready model: the detector's (`hrnet_lit.detection.exported`) with
the mask branch, its masks pasted into the input image as torchvision's Mask R-CNN pastes them."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torchvision.models.detection.roi_heads import paste_masks_in_image

from hrnet_lit.detection.exported import ExportedDetector
from hrnet_lit.instance.task import InstanceTask


class ExportedMaskRCNN(ExportedDetector):
    """uint8 RGB image (3, H, W) -> the detector's `boxes`, `labels`, `scores` and `masks`
    (D, 1, H, W): each detection's mask probabilities (its class's 28 x 28 sigmoid) pasted into its
    box at the input image's size, as the task's Mask R-CNN returns them (threshold them at the
    task's `mask_thresh`)."""

    output_names = ("boxes", "labels", "scores", "masks")
    dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {
        **ExportedDetector.dynamic_axes,
        "masks": {0: "detections", 2: "height", 3: "width"},
    }

    def outputs(
        self, found: dict[str, Tensor], size: tuple[Tensor, Tensor], original: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, ...]:
        boxes, labels, scores = super().outputs(found, size, original)
        return boxes, labels, scores, paste_masks_in_image(found["masks"], boxes, original)


def whole_model(task: InstanceTask, input_size: tuple[int, int]) -> ExportedMaskRCNN:
    """The task's whole inference (any input size: `input_size` is only the export's example)."""
    return ExportedMaskRCNN(task.net)


@torch.no_grad()
def reference(task: InstanceTask, image: Tensor) -> dict[str, Tensor]:
    """The task's Mask R-CNN in eval mode (torchvision's forward) on one uint8 RGB image (3, H, W)."""
    return dict(task.net([image.float() / 255.0])[0])
