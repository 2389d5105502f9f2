"""Detection data: the synthetic boxes, COCO and COCO-format jsons, as lists of 0-1 images + targets."""

from hrnet_lit.detection.data.coco import COCO_LAYOUT, CocoDetection
from hrnet_lit.detection.data.datamodules import (
    CocoDataModule,
    CocoFormatDataModule,
    DetectionDataModule,
    SyntheticDetectionDataModule,
)
from hrnet_lit.detection.data.dataset import DetectionDataset
from hrnet_lit.detection.data.figures import FIGURE_CLASSES, SyntheticFigureBoxes, SyntheticFiguresDataModule
from hrnet_lit.detection.data.synthetic import SHAPE_CLASSES, SyntheticBoxes
from hrnet_lit.detection.data.transforms import DetectionTransform, RawSample, collate_detection

__all__ = [
    "COCO_LAYOUT",
    "FIGURE_CLASSES",
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
    "SyntheticFigureBoxes",
    "SyntheticFiguresDataModule",
    "collate_detection",
]
