"""Segmentation data: datasets, joint transforms and LightningDataModules."""

from hrnet_lit.data.ade20k import ADE20K_CLASSES, ADE20KSegmentation
from hrnet_lit.data.base import SegmentationDataset
from hrnet_lit.data.cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, CityscapesSegmentation
from hrnet_lit.data.datamodules import (
    ADE20KDataModule,
    CityscapesDataModule,
    FolderDataModule,
    SegmentationDataModule,
    SyntheticDataModule,
)
from hrnet_lit.data.folder import FolderSegmentation, ImageFolderPredict
from hrnet_lit.data.palette import make_palette
from hrnet_lit.data.synthetic import CLASSES, PALETTE, SyntheticShapes
from hrnet_lit.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SegEvalTransform,
    SegTrainTransform,
    SegTransform,
    denormalize,
    normalize,
)

__all__ = [
    "ADE20K_CLASSES",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_PALETTE",
    "CLASSES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PALETTE",
    "ADE20KDataModule",
    "ADE20KSegmentation",
    "CityscapesDataModule",
    "CityscapesSegmentation",
    "FolderDataModule",
    "FolderSegmentation",
    "ImageFolderPredict",
    "SegEvalTransform",
    "SegTrainTransform",
    "SegTransform",
    "SegmentationDataModule",
    "SegmentationDataset",
    "SyntheticDataModule",
    "SyntheticShapes",
    "denormalize",
    "make_palette",
    "normalize",
]
