"""Instance segmentation from Python: the detection predictor, whose results carry each detection's
mask (at the task's `mask_thresh`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision.utils import draw_segmentation_masks

from hrnet_lit.detection.predictor import DetectionPredictor, DetectionResult, class_colours
from hrnet_lit.instance.writer import encode_masks


@dataclass
class InstanceResult(DetectionResult):
    """A `DetectionResult` with each detection's `masks` (D, H, W) bool, in the image's pixels."""

    masks: np.ndarray

    def to_json(self) -> dict[str, Any]:
        """The detection's `objects`, each with its `mask` as COCO RLE (`size`, `counts`)."""
        out = super().to_json()
        for found, rle in zip(out["objects"], encode_masks(torch.from_numpy(self.masks)), strict=True):
            found["mask"] = rle
        return {**out, "task": "instance"}

    def draw(self, image: np.ndarray) -> np.ndarray:
        """The detections scoring at least `draw_score_thresh`: masks blended in, then their boxes."""
        shown = self.scores >= self.draw_score_thresh
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        if shown.any():
            palette = class_colours(len(self.class_names))
            colours = [palette[k - 1] for k in self.labels[shown].tolist()]
            masks = torch.from_numpy(self.masks[shown])
            pixels = draw_segmentation_masks(pixels, masks, alpha=0.5, colors=colours)
        return self.draw_boxes(pixels, shown)


class InstancePredictor(DetectionPredictor):
    """`predict(images)` -> `InstanceResult` per image."""

    task_kind = "instance"
