"""Object detection (HRNetV2p under torchvision's Faster R-CNN): the task, the detector, and its data
modules under `hrnet_lit.detection.data`."""

from hrnet_lit.lazy import lazy_names

__all__ = ["DetectionTask"]
__getattr__ = lazy_names(__name__, {"DetectionTask": "hrnet_lit.detection.task"})
