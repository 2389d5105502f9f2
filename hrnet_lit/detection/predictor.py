"""Detection from Python: boxes (x1, y1, x2, y2 in the image's pixels), labels and scores per image
(`hrnet_lit.instance.predictor` adds the masks). The detector resizes and normalises inside (torchvision's
transform, as in training); `predict_step` calls the same `detect`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes

from hrnet_lit.common.palette import make_palette
from hrnet_lit.common.predictor import Predictor
from hrnet_lit.detection.data.transforms import unit_float

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
    1 ... K, named by `class_names[label - 1]`) and `scores` (D,). `draw` shows those scoring at least
    `draw_score_thresh`."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    class_names: list[str]
    draw_score_thresh: float

    def to_json(self) -> dict[str, Any]:
        """`objects`: per detection its `box`, `label`, `name` and `score`."""
        objects = [
            {
                "box": box.tolist(),
                "label": int(label),
                "name": self.class_names[label - 1],
                "score": float(score),
            }
            for box, label, score in zip(self.boxes, self.labels, self.scores, strict=True)
        ]
        return {"task": "detection", "objects": objects}

    def draw(self, image: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 image with the boxes scoring at least `draw_score_thresh`, in their
        class's colour, labelled with class name and score."""
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        return self.draw_boxes(pixels, self.scores >= self.draw_score_thresh)

    def draw_boxes(self, pixels: Tensor, shown: np.ndarray) -> np.ndarray:
        """`draw_boxes` of the `shown` detections on uint8 `pixels` (3, H, W)."""
        boxes, labels = torch.from_numpy(self.boxes[shown]), torch.from_numpy(self.labels[shown])
        return draw_boxes(pixels, boxes, labels, self.class_names, torch.from_numpy(self.scores[shown]))


def detect(
    task: DetectionTask, images: list[Tensor], result: type[DetectionResult] = DetectionResult
) -> list[DetectionResult]:
    """The detections of uint8 images (3, H, W each, any sizes): 0-1 floats into the detector. Each
    becomes a `result` with what the detector gives (`masks` too, for instance segmentation)."""
    found = task(unit_float(images))
    results = []
    for one in found:
        given = {key: value.cpu().numpy() for key, value in one.items()}
        given["boxes"], given["scores"] = (
            given["boxes"].astype(np.float32),
            given["scores"].astype(np.float32),
        )
        results.append(
            result(class_names=list(task.class_names), draw_score_thresh=task.draw_score_thresh, **given)
        )
    return results


class DetectionPredictor(Predictor[DetectionResult]):
    """`predict(images)` -> `DetectionResult` per image; images of one size are batched together (the
    detector pads a batch to its largest image, which would change a smaller one's result)."""

    task_kind = "detection"
    task: DetectionTask

    def predict_batch(self, images: Tensor) -> list[DetectionResult]:
        return detect(self.task, list(images), self.task.result_type)
