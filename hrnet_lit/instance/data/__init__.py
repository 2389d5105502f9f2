"""Instance data: the synthetic shapes with masks, COCO and COCO-format jsons (polygons or RLE), as
lists of 0-1 images + targets with `masks`."""

from hrnet_lit.instance.data.coco import CocoInstances
from hrnet_lit.instance.data.datamodules import (
    CocoFormatInstanceDataModule,
    CocoInstanceDataModule,
    SyntheticInstanceDataModule,
)
from hrnet_lit.instance.data.dataset import InstanceDataset, InstanceSample, InstanceTransform
from hrnet_lit.instance.data.synthetic import SyntheticInstances

__all__ = [
    "CocoFormatInstanceDataModule",
    "CocoInstanceDataModule",
    "CocoInstances",
    "InstanceDataset",
    "InstanceSample",
    "InstanceTransform",
    "SyntheticInstanceDataModule",
    "SyntheticInstances",
]
