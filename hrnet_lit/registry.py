"""The tasks `hrnet-lit` knows by name: adding a task is adding its package and one line here.

Each entry is the class path of the task's LightningModule; its package holds everything that is
only the task's own (network builder, loss, metrics, writer, `data` subpackage).
"""

from __future__ import annotations

TASKS: dict[str, str] = {
    "segmentation": "hrnet_lit.segmentation.SegmentationTask",
    "pose": "hrnet_lit.pose.PoseTask",
    "classification": "hrnet_lit.classification.ClassificationTask",
    "detection": "hrnet_lit.detection.DetectionTask",
    "instance": "hrnet_lit.instance.InstanceTask",
    "landmarks": "hrnet_lit.landmarks.LandmarkTask",
}
DEFAULT_TASK = "segmentation"
