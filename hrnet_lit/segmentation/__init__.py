"""Semantic segmentation (HRNetV2, the paper's main case): the task, its loss, inference and writer,
and its data modules under `hrnet_lit.segmentation.data`."""

from hrnet_lit.lazy import lazy_names

__all__ = ["SegmentationTask"]
__getattr__ = lazy_names(__name__, {"SegmentationTask": "hrnet_lit.segmentation.task"})
