"""Object detection (HRNetV2p under torchvision's Faster R-CNN): the task, the detector, and its data
modules under `hrnet_lit.detection.data`."""

from typing import Any

__all__ = ["DetectionTask"]


def __getattr__(name: str) -> Any:
    """`DetectionTask` is imported on first use: the Lightning-free `network` module of this package
    (what `summary` on flags builds) must not pull in Lightning through the package."""
    if name == "DetectionTask":
        from hrnet_lit.detection.task import DetectionTask

        return DetectionTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
