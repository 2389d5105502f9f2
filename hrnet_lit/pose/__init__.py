"""Top-down pose estimation (HRNetV1 heatmaps): the task, its codec, loss and metrics, and its data
modules under `hrnet_lit.pose.data`."""

from typing import Any

__all__ = ["PoseTask"]


def __getattr__(name: str) -> Any:
    """`PoseTask` is imported on first use: the Lightning-free `network` module of this package
    (what `summary` on flags builds) must not pull in Lightning through the package."""
    if name == "PoseTask":
        from hrnet_lit.pose.task import PoseTask

        return PoseTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
