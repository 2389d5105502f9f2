"""LightningModules: one per task, sharing optimizer and schedule code in `HRNetTask`."""

from hrnet_lit.tasks.base import HRNetTask
from hrnet_lit.tasks.classification import ClassificationTask, build_classifier
from hrnet_lit.tasks.segmentation import SegmentationTask, build_segmenter

__all__ = ["ClassificationTask", "HRNetTask", "SegmentationTask", "build_classifier", "build_segmenter"]
