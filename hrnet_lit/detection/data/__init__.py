"""Detection data: the synthetic boxes, COCO and COCO-format jsons, as lists of 0-1 images + targets."""

from hrnet_lit.detection.data.coco import COCO_LAYOUT, CocoDetection
from hrnet_lit.detection.data.datamodules import (
    CocoDataModule,
    CocoFormatDataModule,
    DetectionDataModule,
    SyntheticDetectionDataModule,
)
from hrnet_lit.detection.data.dataset import DetectionDataset
from hrnet_lit.detection.data.synthetic import SHAPE_CLASSES, SyntheticBoxes
from hrnet_lit.detection.data.transforms import DetectionTransform, RawSample, collate_detection

__all__ = [
    "COCO_LAYOUT",
    "SHAPE_CLASSES",
    "CocoDataModule",
    "CocoDetection",
    "CocoFormatDataModule",
    "DetectionDataModule",
    "DetectionDataset",
    "DetectionTransform",
    "RawSample",
    "SyntheticBoxes",
    "SyntheticDetectionDataModule",
    "collate_detection",
]
