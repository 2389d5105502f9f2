"""Data for every task, one subpackage per task; what they share (file checks, normalisation, the
resumable train loader, prediction folders) lives here.

The segmentation names stay importable from `hrnet_lit.data` (`hrnet_lit.data.SyntheticDataModule`
in a config), because segmentation is the default task and its configs predate the subpackages.
"""

from hrnet_lit.data.images import ImageFolderPredict
from hrnet_lit.data.palette import make_palette
from hrnet_lit.data.segmentation import (
    ADE20K_CLASSES,
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    CLASSES,
    PALETTE,
    ADE20KDataModule,
    ADE20KSegmentation,
    CityscapesDataModule,
    CityscapesSegmentation,
    FolderDataModule,
    FolderSegmentation,
    SegEvalTransform,
    SegmentationDataModule,
    SegmentationDataset,
    SegTrainTransform,
    SegTransform,
    SyntheticDataModule,
    SyntheticShapes,
)
from hrnet_lit.data.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize

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
