"""Old dotted paths of the tasks (`hrnet_lit.tasks.SegmentationTask`, `hrnet_lit.tasks.pose.PoseTask`,
`hrnet_lit.tasks.ema.EMA`, ...), kept so that configs and checkpoints written before the tasks had a
package each still load. New code imports from the task packages."""

import importlib
import sys

from hrnet_lit.classification import ClassificationTask
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.detection import DetectionTask
from hrnet_lit.pose import PoseTask
from hrnet_lit.segmentation import SegmentationTask

MOVED = {
    "base": "hrnet_lit.common.task",
    "segmentation": "hrnet_lit.segmentation.task",
    "pose": "hrnet_lit.pose.task",
    "classification": "hrnet_lit.classification.task",
    "detection": "hrnet_lit.detection.task",
    "checkpointing": "hrnet_lit.callbacks.checkpointing",
    "ema": "hrnet_lit.callbacks.ema",
    "model_cost": "hrnet_lit.callbacks.model_cost",
    "prediction_writer": "hrnet_lit.callbacks.prediction_writer",
    "run_config": "hrnet_lit.callbacks.run_config",
    "wandb_media": "hrnet_lit.callbacks.wandb_media",
}
for _old, _new in MOVED.items():
    sys.modules[f"{__name__}.{_old}"] = importlib.import_module(_new)

__all__ = [
    "ClassificationTask",
    "DetectionTask",
    "HRNetTask",
    "PoseTask",
    "SegmentationTask",
]
