"""Classification LightningDataModules: image folders (ImageNet, own data) and the synthetic set,
with timm's transforms (`create_transform`) and the project's resumable train stream."""

from __future__ import annotations

import math
import random
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from timm.data import ImageNetInfo, create_transform
from torch.utils.data import DataLoader, Dataset

from hrnet_lit.classification.contract import ClassificationArgs
from hrnet_lit.classification.data.folder import ClassificationFolder, read_classes
from hrnet_lit.classification.data.synthetic import SyntheticClasses
from hrnet_lit.classification.data.transforms import TENSOR_INTERPOLATIONS, EvalCrop, PILInput, TrainCrop
from hrnet_lit.common.datamodule import TaskDataModule
from hrnet_lit.common.files import read_rgb
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD
from hrnet_lit.errors import InputError


class KeyedAugment:
    """Runs a timm train transform with Python's and NumPy's global RNGs seeded from torch's.

    timm's crops, RandAugment and random erasing draw from `random` / `numpy.random`, which the
    resumable stream does not key; torch's RNG is keyed per sample there, so seeding the other two
    from it makes every sample's augmentation a function of (seed, epoch, index) again. The RNG
    states of the loading process are restored afterwards."""

    def __init__(self, transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.transform = transform

    def __call__(self, image: Image.Image) -> torch.Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (1,)))
        python_state, numpy_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed)
        try:
            return self.transform(image)
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


class PredictImages(Dataset[tuple[torch.Tensor, str]]):
    """The images of a predict folder (listed and checked as for every task) through the eval transform."""

    def __init__(self, folder: str, transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.paths = ImageFolderPredict(folder).paths
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        return self.transform(read_rgb(self.paths[index])), str(self.paths[index])


class ClassificationDataModule(TaskDataModule):
    """Train / val / test / predict loaders around a subclass's `make_dataset`, with timm's
    `create_transform`: train RandomResizedCrop(`image_size`, `scale`, `ratio`) + flip (+ optional
    colour jitter, RandAugment / AutoAugment, random erasing); eval resize to `image_size / crop_pct`
    then centre crop `image_size`. The defaults are the official HRNet-C recipe (crop and flip only;
    eval 256 -> 224).

    The images leave the loaders as ``uint8`` (N, 3, H, W), timm's prefetcher convention, and the
    task normalises them on its device (`HRNetTask.normalize_inputs`), before Mixup / CutMix as
    before. The official recipe (crop and flip) runs on ``uint8`` tensors (`transforms.TrainCrop`,
    `EvalCrop`: timm's crops, torch's resampling); colour jitter and RandAugment / AutoAugment run
    timm's PIL transforms, and random erasing, defined on normalised pixels, makes the train loader
    normalise and hand float32 over, as timm's transform does without a prefetcher.

    `class_names` are known right after construction; `task_args` hands them (and their count) to
    the task.

    Args:
        image_size: side of the square network input, train and eval.
        batch_size: images per training step (and per evaluation step).
        num_workers: loader processes; 0 loads in the training process.
        scale: RandomResizedCrop area range.
        ratio: RandomResizedCrop aspect range.
        hflip: horizontal flip probability.
        color_jitter: brightness / contrast / saturation strength; None: none (official).
        auto_augment: timm policy string, e.g. `rand-m9-mstd0.5-inc1` (RandAugment) or
            `original` (AutoAugment); None: none.
        re_prob: random erasing probability.
        crop_pct: eval centre crop as a fraction of the resized image (0.875: 256 -> 224).
        interpolation: `bilinear`, `bicubic`, ... for crops and resizes.
        predict_dir: folder of images for `predict`.
    """

    kind = "classification"  # the task this data is for (`HRNetTask.kind`)
    samples = "images"

    def __init__(
        self,
        image_size: int = 224,
        batch_size: int = 32,
        num_workers: int = 4,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        hflip: float = 0.5,
        color_jitter: float | None = None,
        auto_augment: str | None = None,
        re_prob: float = 0.0,
        crop_pct: float = 0.875,
        interpolation: str = "bilinear",
        predict_dir: str | None = None,
    ) -> None:
        super().__init__(batch_size, num_workers, predict_dir)
        if image_size < 8:
            raise InputError(f"data.image_size must be >= 8, got {image_size}")
        if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
            raise InputError(f"data.scale must be (low, high) with 0 < low <= high <= 1, got {scale}")
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise InputError(f"data.ratio must be (low, high) with 0 < low <= high, got {ratio}")
        if not 0 < crop_pct <= 1:
            raise InputError(f"data.crop_pct must be in (0, 1], got {crop_pct}")
        self.save_hyperparameters()
        self.image_size = image_size
        self.train_transform: Callable[[Any], torch.Tensor] = PILInput(
            create_transform(
                image_size,
                is_training=True,
                scale=scale,
                ratio=ratio,
                hflip=hflip,
                color_jitter=color_jitter,
                auto_augment=auto_augment,
                re_prob=re_prob,
                interpolation=interpolation,
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
                normalize=re_prob > 0,  # False: uint8 out (timm then leaves random erasing out too)
            )
        )
        self.eval_transform: Callable[[Any], torch.Tensor] = PILInput(
            create_transform(
                image_size,
                crop_pct=crop_pct,
                interpolation=interpolation,
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
                normalize=False,
            )
        )
        if interpolation in TENSOR_INTERPOLATIONS:
            self.eval_transform = EvalCrop(image_size, math.floor(image_size / crop_pct), interpolation)
            if color_jitter is None and auto_augment is None and re_prob == 0:
                self.train_transform = TrainCrop(image_size, scale, ratio, hflip, interpolation)

    @property
    @abstractmethod
    def class_names(self) -> tuple[str, ...]: ...

    @abstractmethod
    def make_dataset(self, split: str, transform: Callable[[Image.Image], torch.Tensor]) -> Dataset:
        """The labelled dataset of `split` ("train", "val" or "test")."""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def task_args(self) -> ClassificationArgs:
        """What the classification task takes from its data (the CLI fills these model arguments)."""
        return ClassificationArgs(num_classes=self.num_classes, class_names=list(self.class_names))

    @property
    def input_size(self) -> tuple[int, int]:
        """H, W of a training input (`summary --config` counts the network at this size)."""
        return (self.image_size, self.image_size)

    def build_dataset(self, split: str) -> Dataset:
        transform = KeyedAugment(self.train_transform) if split == "train" else self.eval_transform
        return self.make_dataset(split, transform)

    def predict_dataloader(self) -> DataLoader:
        images = self.predict_images(lambda folder: PredictImages(folder, self.eval_transform))
        return DataLoader(images, batch_size=self.batch_size, **self._loader_options())


class ClassificationFolderDataModule(ClassificationDataModule):
    """ImageNet or a researcher's own images: `<root>/train/<class>/*`, `<root>/val/<class>/*` and,
    when present, `<root>/test/<class>/*` (otherwise `test` scores val). Class names are the train
    folder's class folders, read at construction.

    Args:
        root: the folder holding `train/` and `val/`; other arguments: see `ClassificationDataModule`.
    """

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = Path(root)
        self._class_names = self.read_class_names()

    def read_class_names(self) -> tuple[str, ...]:
        """The train folder's class folders (timm's order)."""
        return read_classes(self.root / "train")

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    def make_dataset(self, split: str, transform: Callable[[Image.Image], torch.Tensor]) -> Dataset:
        if split == "test" and not (self.root / "test").is_dir():
            split = "val"
        return ClassificationFolder(self.root / split, self.class_names, transform)


class ImageNetDataModule(ClassificationFolderDataModule):
    """ImageNet-1k in the folder layout (`<root>/train/<wnid>/*.JPEG`, `<root>/val/<wnid>/*.JPEG`).
    Its 1000 classes are known without the data (timm's list of the synsets, which is the sorted
    order of the class folders), so `summary` and `export` of an ImageNet config need no dataset;
    a train folder with other class folders is an error naming them.

    Args:
        root: the folder holding `train/` and `val/`; other arguments: see `ClassificationDataModule`.
    """

    def __init__(self, root: str = "data/imagenet", **kwargs: Any) -> None:
        super().__init__(root=root, **kwargs)

    def read_class_names(self) -> tuple[str, ...]:
        return tuple(ImageNetInfo().label_names())

    def make_dataset(self, split: str, transform: Callable[[Image.Image], torch.Tensor]) -> Dataset:
        if split == "train":
            found = set(read_classes(self.root / "train"))
            missing, extra = sorted(set(self.class_names) - found), sorted(found - set(self.class_names))
            if missing or extra:
                raise InputError(
                    f"data.root: {self.root / 'train'} is not ImageNet-1k's train folder: "
                    f"{len(missing)} of its 1000 class folders are missing (e.g. {missing[:3]}), "
                    f"{len(extra)} others are there (e.g. {extra[:3]}); for other classes use "
                    "hrnet_lit.classification.data.ClassificationFolderDataModule"
                )
        return super().make_dataset(split, transform)


class SyntheticClassesDataModule(ClassificationDataModule):
    """The built-in `SyntheticClasses` set (10 classes of textured shapes); test has `num_val`
    images like val. Split k (train 0, val 1, test 2) draws from seed `3 * seed + k`, so the splits
    share no image.

    Args:
        num_train: training images.
        num_val: validation (and test) images.
        generated_size: side of the generated images, before the transforms crop them to
            `image_size`.
        seed: picks the images; other arguments: see `ClassificationDataModule`.
    """

    def __init__(
        self,
        num_train: int = 2000,
        num_val: int = 500,
        generated_size: int = 64,
        seed: int = 0,
        image_size: int = 64,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size=image_size, **kwargs)
        for key, count in (("num_train", num_train), ("num_val", num_val)):
            if count < 1:
                raise InputError(f"data.{key} must be >= 1, got {count}")
        if generated_size < 8:
            raise InputError(f"data.generated_size must be >= 8, got {generated_size}")
        self.num_train = num_train
        self.num_val = num_val
        self.generated_size = generated_size
        self.seed = seed

    @property
    def class_names(self) -> tuple[str, ...]:
        return SyntheticClasses.classes

    def make_dataset(self, split: str, transform: Callable[[Image.Image], torch.Tensor]) -> Dataset:
        offset = {"train": 0, "val": 1, "test": 2}[split]
        size = self.num_train if split == "train" else self.num_val
        return SyntheticClasses(size, (self.generated_size,) * 2, self.seed * 3 + offset, transform)
