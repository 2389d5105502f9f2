"""Segmentation data: the synthetic shapes, Cityscapes, ADE20K and own folders, with their transforms."""

from hrnet_lit.data.segmentation.ade20k import ADE20K_CLASSES, ADE20KSegmentation
from hrnet_lit.data.segmentation.cityscapes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    CityscapesSegmentation,
)
from hrnet_lit.data.segmentation.datamodules import (
    ADE20KDataModule,
    CityscapesDataModule,
    FolderDataModule,
    SegmentationDataModule,
    SyntheticDataModule,
)
from hrnet_lit.data.segmentation.dataset import SegmentationDataset
from hrnet_lit.data.segmentation.folder import FolderSegmentation
from hrnet_lit.data.segmentation.synthetic import CLASSES, PALETTE, SyntheticShapes
from hrnet_lit.data.segmentation.transforms import SegEvalTransform, SegTrainTransform, SegTransform

__all__ = [
    "ADE20K_CLASSES",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_PALETTE",
    "CLASSES",
    "PALETTE",
    "ADE20KDataModule",
    "ADE20KSegmentation",
    "CityscapesDataModule",
    "CityscapesSegmentation",
    "FolderDataModule",
    "FolderSegmentation",
    "SegEvalTransform",
    "SegTrainTransform",
    "SegTransform",
    "SegmentationDataModule",
    "SegmentationDataset",
    "SyntheticDataModule",
    "SyntheticShapes",
]
