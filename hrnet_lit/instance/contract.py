"""What the instance task needs from its data module: what the detection task needs (classes, their
names and dataset category ids); the masks travel in the batches."""

from __future__ import annotations

from hrnet_lit.detection.contract import DETECTION_CONTRACT, DetectionArgs

INSTANCE_CONTRACT = DETECTION_CONTRACT
InstanceArgs = DetectionArgs

__all__ = ["INSTANCE_CONTRACT", "InstanceArgs"]
