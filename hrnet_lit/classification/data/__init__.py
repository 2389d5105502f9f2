"""Classification data: image folders (ImageNet, own data) and the synthetic textured shapes."""

from hrnet_lit.classification.data.datamodules import (
    ClassificationDataModule,
    ClassificationFolderDataModule,
    ImageNetDataModule,
    SyntheticClassesDataModule,
)
from hrnet_lit.classification.data.folder import ClassificationFolder
from hrnet_lit.classification.data.synthetic import CLASSES, SyntheticClasses

__all__ = [
    "CLASSES",
    "ClassificationDataModule",
    "ClassificationFolder",
    "ClassificationFolderDataModule",
    "ImageNetDataModule",
    "SyntheticClasses",
    "SyntheticClassesDataModule",
]
