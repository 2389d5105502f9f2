"""Instance segmentation from Python: the detection predictor, whose results carry each detection's
mask (at the task's `mask_thresh`)."""

from __future__ import annotations

from hrnet_lit.detection.predictor import DetectionPredictor


class InstancePredictor(DetectionPredictor):
    """`predict(images)` -> `DetectionResult` per image, with `masks` (D, H, W) bool."""

    task_kind = "instance"
