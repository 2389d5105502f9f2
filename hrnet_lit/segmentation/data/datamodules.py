"""LightningDataModules: one per data source, all sharing loaders, transforms and split handling."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate

from hrnet_lit.common.datamodule import TaskDataModule, check_synthetic
from hrnet_lit.common.files import require_dir
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.common.loaders import eval_loader
from hrnet_lit.common.palette import make_palette
from hrnet_lit.errors import InputError
from hrnet_lit.segmentation.contract import SegmentationArgs
from hrnet_lit.segmentation.data.ade20k import ADE20KSegmentation
from hrnet_lit.segmentation.data.cityscapes import CityscapesSegmentation
from hrnet_lit.segmentation.data.folder import FolderSegmentation, read_class_names
from hrnet_lit.segmentation.data.synthetic import SyntheticShapes
from hrnet_lit.segmentation.data.transforms import SegEvalTransform, SegTrainTransform, SegTransform


class SegmentationDataModule(TaskDataModule):
    """Train/val/test/predict loaders around a subclass's ``make_dataset``.

    Class metadata (``num_classes``, ``class_names``, ``palette``, ``ignore_index``, and ``task_args``
    holding them for the task) is available right after construction, before ``setup``, so the CLI
    can fill the model's arguments with it.
    Training batches are random crops of a fixed size; evaluation uses whole images, which for real
    datasets differ in size and so are served one per batch (see ``eval_batch_size``), a batch of one
    being a view of its sample, not a copy. Images travel as ``uint8`` and masks as ``uint8`` (255 =
    ignore) where the labels fit; the task normalises on its device.

    Args:
        crop_size: training crop (H, W).
        batch_size: training images per step (and per evaluation step where sizes agree).
        num_workers: loader processes; 0 loads in the training process.
        scale_range: random rescaling of training images before cropping.
        color_jitter: brightness / contrast / saturation jitter of training crops, factors drawn from
            [1 - x, 1 + x]; 0 (the official recipes') applies none.
        predict_dir: folder of images for ``predict``.
    """

    kind = "segmentation"  # the task this data is for (`HRNetTask.kind`)

    def __init__(
        self,
        crop_size: tuple[int, int],
        batch_size: int = 8,
        num_workers: int = 2,
        scale_range: tuple[float, float] = (0.5, 2.0),
        color_jitter: float = 0.0,
        predict_dir: str | None = None,
    ) -> None:
        super().__init__(batch_size, num_workers, predict_dir)
        if len(crop_size) != 2 or min(crop_size) < 1:
            raise InputError(f"data.crop_size must be two positive ints (height, width), got {crop_size}")
        if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
            raise InputError(f"data.scale_range must be (low, high) with 0 < low <= high, got {scale_range}")
        if not 0 <= color_jitter < 1:
            raise InputError(f"data.color_jitter must be in [0, 1) (0: none), got {color_jitter}")
        self.save_hyperparameters()
        self.crop_size = crop_size
        self.scale_range = scale_range
        self.color_jitter = color_jitter

    @property
    @abstractmethod
    def class_names(self) -> tuple[str, ...]: ...

    @property
    @abstractmethod
    def palette(self) -> np.ndarray: ...

    @abstractmethod
    def make_dataset(self, split: str, transform: SegTransform) -> Dataset:
        """The labelled dataset of ``split`` ("train", "val" or ``test_split``)."""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def task_args(self) -> SegmentationArgs:
        """What the segmentation task takes from its data (the CLI fills these model arguments)."""
        return SegmentationArgs(
            num_classes=self.num_classes, class_names=list(self.class_names), ignore_index=self.ignore_index
        )

    @property
    def input_size(self) -> tuple[int, int]:
        """H, W of a training input (`summary --config` counts the network at this size)."""
        return tuple(self.crop_size)

    @property
    def ignore_index(self) -> int:
        return 255

    @property
    def test_split(self) -> str:
        """Split scored by ``test``: the validation split unless the source has labelled test data."""
        return "val"

    @property
    def eval_batch_size(self) -> int:
        """Whole images of varying size cannot be stacked, so evaluation runs one image per batch."""
        return 1

    def train_transform(self) -> SegTransform:
        """The training sample: rescaled, cropped, padded, flipped (and jittered, if asked)."""
        return SegTrainTransform(
            self.crop_size, self.scale_range, self.ignore_index, jitter=self.color_jitter
        )

    def eval_transform(self) -> SegTransform:
        """The evaluation sample: the whole image as it is."""
        return SegEvalTransform()

    def build_dataset(self, split: str) -> Dataset:
        transform = self.train_transform() if split == "train" else self.eval_transform()
        return self.make_dataset(self.test_split if split == "test" else split, transform)

    def _eval_loader(self, split: str) -> DataLoader:
        options = {**self._loader_options(), "collate_fn": collate_whole_images}
        return eval_loader(self.trainer, self.dataset(split), self.eval_batch_size, options)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.predict_images(ImageFolderPredict), batch_size=1, **self._loader_options())


def collate_whole_images(samples: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """A batch of one is a view of its sample (a full Cityscapes image and mask are 8 MB to copy);
    larger batches stack as usual."""
    if len(samples) == 1:
        image, mask = samples[0]
        return image[None], mask[None]
    return default_collate(samples)


class SyntheticDataModule(SegmentationDataModule):
    """The built-in :class:`SyntheticShapes` set; test has ``num_val`` samples like val.

    Split ``k`` (train 0, val 1, test 2) draws from dataset seed ``3 * seed + k``, so the splits never
    share a sample, within a run or across runs with different seeds. The quickstart config rescales
    more mildly than for photos (0.75-1.5): the shapes already vary in size, and strong zooms crop
    away the outlines that tell discs, triangles and rectangles apart; the default stays the photos'
    one, as for every other segmentation source.
    """

    def __init__(
        self,
        num_train: int = 512,
        num_val: int = 64,
        image_size: tuple[int, int] = (128, 128),
        seed: int = 0,
        crop_size: tuple[int, int] = (128, 128),
        **kwargs: Any,
    ) -> None:
        super().__init__(crop_size=crop_size, **kwargs)
        check_synthetic(num_train, num_val, image_size, 8)
        self.num_train = num_train
        self.num_val = num_val
        self.image_size = image_size
        self.seed = seed

    @property
    def class_names(self) -> tuple[str, ...]:
        return SyntheticShapes.classes

    @property
    def palette(self) -> np.ndarray:
        return SyntheticShapes.palette

    @property
    def test_split(self) -> str:
        return "test"

    @property
    def eval_batch_size(self) -> int:
        """All synthetic images share one size, so evaluation batches like training."""
        return self.batch_size

    def make_dataset(self, split: str, transform: SegTransform) -> Dataset:
        offset = {"train": 0, "val": 1, "test": 2}[split]
        size = self.num_train if split == "train" else self.num_val
        return SyntheticShapes(size, self.image_size, self.seed * 3 + offset, transform)


class PublishedDataModule(SegmentationDataModule):
    """A published dataset under ``root``, whose classes and palette its dataset class fixes."""

    source: ClassVar[type[CityscapesSegmentation | ADE20KSegmentation]]

    def __init__(self, root: str, crop_size: tuple[int, int], **kwargs: Any) -> None:
        super().__init__(crop_size=crop_size, **kwargs)
        self.root = root

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.source.classes

    @property
    def palette(self) -> np.ndarray:
        return self.source.palette

    def make_dataset(self, split: str, transform: SegTransform) -> Dataset:
        require_dir(Path(self.root), self.source.layout, key="data.root")
        return self.source(self.root, split, transform)


class CityscapesDataModule(PublishedDataModule):
    """Cityscapes fine, 19 classes. Its test labels are withheld, so ``test`` scores the val split.

    Args:
        root: the folder holding ``leftImg8bit/`` and ``gtFine/``.
        crop_size: training crop (H, W); other arguments: see ``SegmentationDataModule``.
    """

    source = CityscapesSegmentation

    def __init__(self, root: str, crop_size: tuple[int, int] = (512, 1024), **kwargs: Any) -> None:
        super().__init__(root=root, crop_size=crop_size, **kwargs)


class ADE20KDataModule(PublishedDataModule):
    """ADE20K SceneParsing, 150 classes; it has no labelled test split, so ``test`` scores val.

    Args:
        root: the ``ADEChallengeData2016`` folder or its parent.
        crop_size: training crop (H, W); other arguments: see ``SegmentationDataModule``.
    """

    source = ADE20KSegmentation

    def __init__(self, root: str, crop_size: tuple[int, int] = (512, 512), **kwargs: Any) -> None:
        super().__init__(root=root, crop_size=crop_size, **kwargs)


class FolderDataModule(SegmentationDataModule):
    """A researcher's own data (see :class:`FolderSegmentation`); ``classes.txt`` is read at once.

    Args:
        root: the folder holding ``classes.txt``, ``images/<split>/`` and ``masks/<split>/``.
        crop_size: training crop (H, W); other arguments: see ``SegmentationDataModule``.
    """

    def __init__(
        self,
        root: str,
        crop_size: tuple[int, int] = (512, 512),
        **kwargs: Any,
    ) -> None:
        super().__init__(crop_size=crop_size, **kwargs)
        self.root = root
        require_dir(Path(root), FolderSegmentation.layout, key="data.root")
        self._class_names = read_class_names(root)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def palette(self) -> np.ndarray:
        return make_palette(self.num_classes)

    @property
    def test_split(self) -> str:
        """``images/test`` when the folder has one, otherwise the validation split."""
        return "test" if (Path(self.root) / "images" / "test").is_dir() else "val"

    def make_dataset(self, split: str, transform: SegTransform) -> Dataset:
        return FolderSegmentation(self.root, split, transform)
