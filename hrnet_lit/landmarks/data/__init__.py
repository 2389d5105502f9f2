"""Landmark data: face crops, heatmap targets, the official augmentation, and the benchmark formats."""

from hrnet_lit.landmarks.data.coco import COCOFaceDataModule
from hrnet_lit.landmarks.data.datamodules import (
    COFWDataModule,
    LandmarkCSVDataModule,
    LandmarkDataModule,
    SyntheticFaceDataModule,
)
from hrnet_lit.landmarks.data.specs import BENCHMARKS, LandmarkSpec
from hrnet_lit.landmarks.data.synthetic import SyntheticFaces

__all__ = [
    "BENCHMARKS",
    "COCOFaceDataModule",
    "COFWDataModule",
    "LandmarkCSVDataModule",
    "LandmarkDataModule",
    "LandmarkSpec",
    "SyntheticFaceDataModule",
    "SyntheticFaces",
]
