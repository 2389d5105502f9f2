"""Top-down pose estimation (HRNetV1 heatmaps): the task, its codec, loss and metrics, and its data
modules under `hrnet_lit.pose.data`."""

from hrnet_lit.lazy import lazy_names

__all__ = ["PoseTask"]
__getattr__ = lazy_names(__name__, {"PoseTask": "hrnet_lit.pose.task"})
