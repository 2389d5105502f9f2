"""Top-down pose estimation (HRNetV1 heatmaps): the task, its codec, loss and metrics, and its data
modules under `hrnet_lit.pose.data`."""

from hrnet_lit.pose.task import PoseTask

__all__ = ["PoseTask"]
