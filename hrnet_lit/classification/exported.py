"""The classification task as one ONNX-ready model: uint8 RGB images in, class probabilities out."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from hrnet_lit.classification.task import ClassificationTask
from hrnet_lit.common.exportable import WholeModel
from hrnet_lit.common.normalize import normalize_batch


class ExportedClassifier(WholeModel):
    """uint8 RGB (N, 3, H, W) -> `probs` (N, K): the softmax of HRNet-C's logits. Normalised inside
    with the ImageNet statistics; any size (the head pools globally)."""

    output_names = ("probs",)
    dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {
        "image_uint8_rgb": {0: "batch", 2: "height", 3: "width"},
        "probs": {0: "batch"},
    }

    def __init__(self, task: ClassificationTask) -> None:
        super().__init__()
        self.net = task.net

    def forward(self, image: Tensor) -> Tensor:
        return self.net(normalize_batch(image)).softmax(1)


def whole_model(task: ClassificationTask, input_size: tuple[int, int]) -> ExportedClassifier:
    """The task's whole inference (any input size: `input_size` is only the export's example)."""
    return ExportedClassifier(task)


@torch.no_grad()
def reference(task: ClassificationTask, image: Tensor) -> dict[str, Tensor]:
    """The task's probabilities (its `predict_step`: the softmax of its output) for uint8 images."""
    return {"probs": task(normalize_batch(image)).softmax(1)}
