"""Facial landmark detection (HRNetV2 heatmaps, the official HRNet-Facial-Landmark-Detection network):
the task, its loss and NME metrics, and its data modules under `hrnet_lit.landmarks.data`."""

from hrnet_lit.lazy import lazy_names

__all__ = ["LandmarkTask"]
__getattr__ = lazy_names(__name__, {"LandmarkTask": "hrnet_lit.landmarks.task"})
