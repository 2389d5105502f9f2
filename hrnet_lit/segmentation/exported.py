"""The segmentation task as one ONNX-ready model: uint8 RGB images in, logits at the input size and
the class map out, single scale on the whole image (the task's `eval_scales`, flip and sliding window
stay in PyTorch: a window's count depends on the image size)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from hrnet_lit.common.exportable import WholeModel
from hrnet_lit.common.normalize import normalize_batch
from hrnet_lit.segmentation.inference import predict_probs, upsample
from hrnet_lit.segmentation.task import SegmentationTask


class ExportedSegmenter(WholeModel):
    """uint8 RGB (N, 3, H, W) -> `logits` (N, K, H, W), upsampled as the network upsamples, and
    `classes` (N, H, W, int64: their argmax). Normalised inside with the ImageNet statistics."""

    output_names = ("logits", "classes")
    dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {
        "image_uint8_rgb": {0: "batch", 2: "height", 3: "width"},
        "logits": {0: "batch", 2: "height", 3: "width"},
        "classes": {0: "batch", 1: "height", 2: "width"},
    }

    def __init__(self, task: SegmentationTask) -> None:
        super().__init__()
        self.net = task.net
        self.how = task.resize

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        logits = upsample(self.net(normalize_batch(image)), image.shape[-2:], *self.how)
        return logits, logits.argmax(1)


def whole_model(task: SegmentationTask, input_size: tuple[int, int]) -> ExportedSegmenter:
    """The task's whole inference (any input size: `input_size` is only the export's example)."""
    return ExportedSegmenter(task)


@torch.no_grad()
def reference(task: SegmentationTask, image: Tensor) -> dict[str, Tensor]:
    """What the exported model computes, by the task's own inference (`predict_probs` at one scale,
    whole image, no flip): `probs` (N, K, H, W) and `classes` (N, H, W) for uint8 images."""
    probs = predict_probs(task, normalize_batch(image), how=task.resize)
    return {"probs": probs, "classes": probs.argmax(1)}
