"""Object detection (HRNetV2p under torchvision's Faster R-CNN): the task, the detector, and its data
modules under `hrnet_lit.detection.data`."""

from hrnet_lit.detection.task import DetectionTask

__all__ = ["DetectionTask"]
