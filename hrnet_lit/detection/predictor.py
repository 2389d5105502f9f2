"""Detection from Python: boxes (x1, y1, x2, y2 in the image's pixels), labels and scores per image, and
masks where the task is instance segmentation. The detector resizes and normalises inside (torchvision's
transform, as in training); `predict_step` calls the same `detect`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from hrnet_lit.common.palette import make_palette
from hrnet_lit.common.predictor import Predictor

if TYPE_CHECKING:
    from hrnet_lit.detection.task import DetectionTask


def class_colours(num_classes: int) -> list[tuple[int, int, int]]:
    """The colour of each class (labels 1 ... K), the palette without its first (background) entry."""
    return [tuple(int(c) for c in rgb) for rgb in make_palette(num_classes + 1)[1:]]


def draw_boxes(
    pixels: Tensor, boxes: Tensor, labels: Tensor, class_names: list[str], scores: Tensor | None = None
) -> np.ndarray:
    """The uint8 image (3, H, W) as (H, W, 3) with the boxes (xyxy) in their class's colour, labelled
    with the class name and, for detections, the score."""
    if len(boxes) == 0:  # torchvision warns on an empty box list
        return pixels.permute(1, 2, 0).numpy()
    palette = class_colours(len(class_names))
    names = [class_names[k - 1] for k in labels.tolist()]
    if scores is not None:
        names = [f"{name} {s:.2f}" for name, s in zip(names, scores.tolist(), strict=True)]
    colours = [palette[k - 1] for k in labels.tolist()]
    drawn = draw_bounding_boxes(pixels, boxes.detach().cpu(), labels=names, colors=colours, width=2)
    return drawn.permute(1, 2, 0).numpy()


@dataclass
class DetectionResult:
    """One image's detections, best first: `boxes` (D, 4: x1, y1, x2, y2, image pixels), `labels` (D,:
    1 ... K, named by `class_names[label - 1]`), `scores` (D,), and for instance segmentation `masks`
    (D, H, W) bool. `draw` shows those scoring at least `draw_score_thresh`."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    class_names: list[str]
    draw_score_thresh: float
    masks: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        """`objects`: per detection `box`, `label`, `name`, `score` (and `mask` as COCO RLE)."""
        objects = [
            {
                "box": box.tolist(),
                "label": int(label),
                "name": self.class_names[label - 1],
                "score": float(score),
            }
            for box, label, score in zip(self.boxes, self.labels, self.scores, strict=True)
        ]
        if self.masks is not None:
            from hrnet_lit.instance.writer import encode_masks

            for found, rle in zip(objects, encode_masks(torch.from_numpy(self.masks)), strict=True):
                found["mask"] = rle
        return {"task": "instance" if self.masks is not None else "detection", "objects": objects}

    def draw(self, image: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 image with the detections scoring at least `draw_score_thresh`: masks
        blended in and boxes drawn in their class's colour, labelled with class name and score."""
        shown = self.scores >= self.draw_score_thresh
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        labels = torch.from_numpy(self.labels[shown])
        if self.masks is not None and shown.any():
            palette = class_colours(len(self.class_names))
            colours = [palette[k - 1] for k in labels.tolist()]
            masks = torch.from_numpy(self.masks[shown])
            pixels = draw_segmentation_masks(pixels, masks, alpha=0.5, colors=colours)
        boxes, scores = torch.from_numpy(self.boxes[shown]), torch.from_numpy(self.scores[shown])
        return draw_boxes(pixels, boxes, labels, self.class_names, scores)


def detect(task: DetectionTask, images: list[Tensor]) -> list[DetectionResult]:
    """The detections of uint8 images (3, H, W each, any sizes): 0-1 floats into the detector."""
    found = task([image.float() / 255.0 for image in images])
    results = []
    for one in found:
        masks = one.get("masks")
        results.append(
            DetectionResult(
                one["boxes"].float().cpu().numpy(),
                one["labels"].cpu().numpy(),
                one["scores"].float().cpu().numpy(),
                list(task.class_names),
                task.draw_score_thresh,
                None if masks is None else masks.cpu().numpy(),
            )
        )
    return results


class DetectionPredictor(Predictor[DetectionResult]):
    """`predict(images)` -> `DetectionResult` per image; images of one size are batched together (the
    detector pads a batch to its largest image, which would change a smaller one's result)."""

    task_kind = "detection"
    task: DetectionTask

    def predict_batch(self, images: Tensor, arrays: list[np.ndarray]) -> list[DetectionResult]:
        return detect(self.task, list(images))
