"""Classification data: image folders (ImageNet, own data) and the synthetic textured shapes."""

from hrnet_lit.data.classification.datamodules import (
    ClassificationDataModule,
    ClassificationFolderDataModule,
    ImageNetDataModule,
    SyntheticClassesDataModule,
)
from hrnet_lit.data.classification.folder import ClassificationFolder
from hrnet_lit.data.classification.synthetic import CLASSES, SyntheticClasses

__all__ = [
    "CLASSES",
    "ClassificationDataModule",
    "ClassificationFolder",
    "ClassificationFolderDataModule",
    "ImageNetDataModule",
    "SyntheticClasses",
    "SyntheticClassesDataModule",
]
