"""LightningModules: one per task, sharing optimizer and schedule code in `HRNetTask`."""

from hrnet_lit.tasks.base import HRNetTask
from hrnet_lit.tasks.segmentation import SegmentationTask, build_segmenter

__all__ = ["HRNetTask", "SegmentationTask", "build_segmenter"]
