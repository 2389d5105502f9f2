"""Old dotted paths of the data modules (`hrnet_lit.data.SyntheticDataModule`,
`hrnet_lit.data.pose.SyntheticPoseDataModule`, ...), kept so that configs and checkpoints written
before the tasks had a package each still load. New code imports from `hrnet_lit.<task>.data`."""

import importlib
import sys

from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize
from hrnet_lit.common.palette import make_palette
from hrnet_lit.segmentation.data import *  # noqa: F403 (the segmentation names were at this level)
from hrnet_lit.segmentation.data import __all__ as _segmentation_names

MOVED = {
    "segmentation": "hrnet_lit.segmentation.data",
    "pose": "hrnet_lit.pose.data",
    "classification": "hrnet_lit.classification.data",
    "detection": "hrnet_lit.detection.data",
}
for _old, _new in MOVED.items():
    sys.modules[f"{__name__}.{_old}"] = importlib.import_module(_new)

__all__ = [
    *_segmentation_names,
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageFolderPredict",
    "denormalize",
    "make_palette",
    "normalize",
]
