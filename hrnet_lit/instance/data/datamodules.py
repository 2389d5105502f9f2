"""Instance LightningDataModules: the synthetic shapes with masks (default), COCO, and any COCO-format
json with masks. Each is the detection data module of the same data (its arguments, categories and
loaders), serving masks: only the datasets it builds differ."""

from __future__ import annotations

from hrnet_lit.detection.data.datamodules import (
    CocoDataModule,
    CocoFormatDataModule,
    SyntheticDetectionDataModule,
)
from hrnet_lit.instance.data.coco import CocoInstances
from hrnet_lit.instance.data.dataset import InstanceTransform
from hrnet_lit.instance.data.synthetic import SyntheticInstances


class InstanceSplits:
    """What makes a detection data module an instance one: its `kind`, and the instance transform
    (image, boxes and masks flipped together) for the datasets its `make_dataset` builds (of the
    module's `dataset_class`)."""

    kind = "instance"  # the task this data is for (`HRNetTask.kind`)
    transform_class = InstanceTransform


class SyntheticInstanceDataModule(InstanceSplits, SyntheticDetectionDataModule):
    """The built-in `SyntheticInstances`: the detection task's synthetic shapes with their masks; split
    k (train 0, val 1, test 2) draws from seed 3 * seed + k, so the splits never share an image.
    Arguments: those of `SyntheticDetectionDataModule`."""

    dataset_class = SyntheticInstances


class CocoFormatInstanceDataModule(InstanceSplits, CocoFormatDataModule):
    """A researcher's images with COCO-format jsons whose annotations carry `segmentation` (polygons
    or RLE). Arguments: those of `CocoFormatDataModule`; `bad_boxes` also covers polygons too short
    to enclose a pixel."""

    dataset_class = CocoInstances


class CocoInstanceDataModule(CocoDataModule, CocoFormatInstanceDataModule):
    """COCO 2017 instances under `root` (layout: `hrnet_lit.detection.data.coco.COCO_LAYOUT`); test
    scores val2017. Without the files it still knows COCO's 80 categories, so that `summary` builds
    the official recipes; `fit` then names what is missing. Arguments: those of `CocoDataModule`,
    whose checks run before `CocoFormatInstanceDataModule` builds the datasets."""
