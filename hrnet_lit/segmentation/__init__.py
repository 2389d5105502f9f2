"""Semantic segmentation (HRNetV2, the paper's main case): the task, its loss, inference and writer,
and its data modules under `hrnet_lit.segmentation.data`."""

from hrnet_lit.segmentation.task import SegmentationTask, build_segmenter

__all__ = ["SegmentationTask", "build_segmenter"]
