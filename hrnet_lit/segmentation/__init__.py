"""Semantic segmentation (HRNetV2, the paper's main case): the task, its loss, inference and writer,
and its data modules under `hrnet_lit.segmentation.data`."""

from typing import Any

__all__ = ["SegmentationTask"]


def __getattr__(name: str) -> Any:
    """`SegmentationTask` is imported on first use: the Lightning-free `network` module of this package
    (what `summary` on flags builds) must not pull in Lightning through the package."""
    if name == "SegmentationTask":
        from hrnet_lit.segmentation.task import SegmentationTask

        return SegmentationTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
