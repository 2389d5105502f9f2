"""Instance LightningDataModules: the synthetic shapes with masks (default), COCO, and any COCO-format
json with masks. Each is the detection data module of the same data (its arguments, categories and
loaders), serving masks: only the datasets it builds differ."""

from __future__ import annotations

from hrnet_lit.detection.data.datamodules import (
    CocoDataModule,
    CocoFormatDataModule,
    SyntheticDetectionDataModule,
)
from hrnet_lit.errors import InputError
from hrnet_lit.instance.data.coco import CocoInstances
from hrnet_lit.instance.data.dataset import InstanceDataset, InstanceTransform
from hrnet_lit.instance.data.synthetic import SyntheticInstances


class InstanceSplits:
    """What makes a detection data module an instance one: its `kind`, and datasets built with the
    instance transform (image, boxes and masks flipped together) by the class's `make_dataset`."""

    kind = "instance"  # the task this data is for (`HRNetTask.kind`)
    flip: bool

    def build_dataset(self, split: str) -> InstanceDataset:
        train = split == "train"
        transform = InstanceTransform(0.5 if train and self.flip else 0.0)
        return self.make_dataset(split, transform, train)  # type: ignore[attr-defined]


class SyntheticInstanceDataModule(InstanceSplits, SyntheticDetectionDataModule):
    """The built-in `SyntheticInstances`: the detection task's synthetic shapes with their masks; split
    k (train 0, val 1, test 2) draws from seed 3 * seed + k, so the splits never share an image.
    Arguments: those of `SyntheticDetectionDataModule`."""

    def make_dataset(self, split: str, transform: InstanceTransform, train: bool) -> InstanceDataset:
        offset = {"train": 0, "val": 1, "test": 2}[split]
        size = self.num_train if split == "train" else self.num_val
        return SyntheticInstances(size, self.image_size, self.seed * 3 + offset, transform)


class CocoFormatInstanceDataModule(InstanceSplits, CocoFormatDataModule):
    """A researcher's images with COCO-format jsons whose annotations carry `segmentation` (polygons
    or RLE). Arguments: those of `CocoFormatDataModule`; `bad_boxes` also covers polygons too short
    to enclose a pixel."""

    def make_dataset(self, split: str, transform: InstanceTransform, train: bool) -> InstanceDataset:
        images, annotations = self.splits[split]
        dataset = CocoInstances(images, annotations, self.bad_boxes, transform, keep_crowd=not train)
        if dataset.category_ids != self.category_ids:
            raise InputError(
                f"{annotations} lists categories {dataset.category_ids}, but {self.splits['val'][1]} "
                f"lists {self.category_ids}: the splits must share one category list"
            )
        return dataset


class CocoInstanceDataModule(CocoDataModule, CocoFormatInstanceDataModule):
    """COCO 2017 instances under `root` (layout: `hrnet_lit.detection.data.coco.COCO_LAYOUT`); test
    scores val2017. Without the files it still knows COCO's 80 categories, so that `summary` builds
    the official recipes; `fit` then names what is missing. Arguments: those of `CocoDataModule`,
    whose checks run before `CocoFormatInstanceDataModule` builds the datasets."""
