"""Top-down pose data: person crops, heatmap targets, the official augmentation, COCO and synthetic sets."""

from hrnet_lit.pose.data.datamodules import COCOKeypointsDataModule, PoseDataModule, SyntheticPoseDataModule
from hrnet_lit.pose.data.keypoints import COCO_SPEC, KeypointSpec
from hrnet_lit.pose.data.mpii import MPIIDataModule
from hrnet_lit.pose.data.synthetic import SyntheticPoses

__all__ = [
    "COCO_SPEC",
    "COCOKeypointsDataModule",
    "KeypointSpec",
    "MPIIDataModule",
    "PoseDataModule",
    "SyntheticPoseDataModule",
    "SyntheticPoses",
]
