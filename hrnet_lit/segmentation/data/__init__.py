"""Segmentation data: the synthetic shapes, Cityscapes, ADE20K and own folders, with their transforms."""

from hrnet_lit.segmentation.data.ade20k import ADE20K_CLASSES, ADE20KSegmentation
from hrnet_lit.segmentation.data.cityscapes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    CityscapesSegmentation,
)
from hrnet_lit.segmentation.data.datamodules import (
    ADE20KDataModule,
    CityscapesDataModule,
    FolderDataModule,
    SegmentationDataModule,
    SyntheticDataModule,
)
from hrnet_lit.segmentation.data.dataset import SegmentationDataset
from hrnet_lit.segmentation.data.folder import FolderSegmentation
from hrnet_lit.segmentation.data.lip import LIP_CLASSES, LIPDataModule, LIPSegmentation
from hrnet_lit.segmentation.data.pascal_context import (
    PASCAL_CONTEXT_CLASSES,
    PascalContextDataModule,
    PascalContextSegmentation,
)
from hrnet_lit.segmentation.data.synthetic import CLASSES, PALETTE, SyntheticShapes
from hrnet_lit.segmentation.data.transforms import SegEvalTransform, SegTrainTransform, SegTransform

__all__ = [
    "ADE20K_CLASSES",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_PALETTE",
    "CLASSES",
    "LIP_CLASSES",
    "PALETTE",
    "PASCAL_CONTEXT_CLASSES",
    "ADE20KDataModule",
    "ADE20KSegmentation",
    "CityscapesDataModule",
    "CityscapesSegmentation",
    "FolderDataModule",
    "FolderSegmentation",
    "LIPDataModule",
    "LIPSegmentation",
    "PascalContextDataModule",
    "PascalContextSegmentation",
    "SegEvalTransform",
    "SegTrainTransform",
    "SegTransform",
    "SegmentationDataModule",
    "SegmentationDataset",
    "SyntheticDataModule",
    "SyntheticShapes",
]
