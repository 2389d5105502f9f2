"""LightningModules: one per task, sharing the CLI contract, optimizer and schedule code in `HRNetTask`."""

from hrnet_lit.tasks.base import HRNetTask
from hrnet_lit.tasks.classification import ClassificationTask, build_classifier
from hrnet_lit.tasks.detection import DetectionTask
from hrnet_lit.tasks.pose import PoseTask
from hrnet_lit.tasks.segmentation import SegmentationTask, build_segmenter

__all__ = [
    "ClassificationTask",
    "DetectionTask",
    "HRNetTask",
    "PoseTask",
    "SegmentationTask",
    "build_classifier",
    "build_segmenter",
]
