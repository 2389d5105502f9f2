"""What every task's data module shares: checked loader settings, datasets built in `setup` (so a wrong
file fails before the first step, not mid-epoch), the resumable train loader, evaluation that scores
each sample once, and the predict folder's errors naming its key."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import lightning.pytorch as pl
from torch.utils.data import DataLoader, Dataset

from hrnet_lit.common.loaders import eval_loader, loader_options, train_loader
from hrnet_lit.errors import InputError

_STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ()}
_Folder = TypeVar("_Folder", bound=Dataset)


def check_synthetic(num_train: int, num_val: int, image_size: tuple[int, int], smallest: int) -> None:
    """A built-in synthetic set's knobs: at least one sample per split, images of two sides >= `smallest`."""
    for key, count in (("num_train", num_train), ("num_val", num_val)):
        if count < 1:
            raise InputError(f"data.{key} must be >= 1, got {count}")
    if len(image_size) != 2 or min(image_size) < smallest:
        raise InputError(f"data.image_size must be (height, width) with both >= {smallest}, got {image_size}")


class TaskDataModule(pl.LightningDataModule, ABC):
    """Train / val / test loaders around a subclass's `build_dataset`; each task's family adds its
    metadata (`task_args`, `input_size`) and `predict_dataloader`.

    Args:
        batch_size: samples per training step (and per evaluation step, unless `eval_batch_size`).
        num_workers: loader processes; 0 loads in the training process.
        predict_dir: folder of images for `predict`.
    """

    samples = "samples"  # what one training sample is, for the error on a too small train split

    def __init__(self, batch_size: int, num_workers: int, predict_dir: str | None) -> None:
        super().__init__()
        if batch_size < 1:
            raise InputError(f"data.batch_size must be >= 1, got {batch_size}")
        if num_workers < 0:
            raise InputError(f"data.num_workers must be >= 0, got {num_workers}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.predict_dir = predict_dir
        self._datasets: dict[str, Dataset] = {}

    @abstractmethod
    def build_dataset(self, split: str) -> Dataset:
        """The dataset of `split` ("train", "val" or "test"), with its transform."""

    def dataset(self, split: str) -> Dataset:
        """`build_dataset(split)`, built once."""
        if split not in self._datasets:
            self._datasets[split] = self.build_dataset(split)
        return self._datasets[split]

    def setup(self, stage: str) -> None:
        for split in _STAGE_SPLITS[stage]:
            self.dataset(split)

    @property
    def eval_batch_size(self) -> int:
        return self.batch_size

    def _loader_options(self) -> dict[str, Any]:
        return loader_options(self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return train_loader(
            self.trainer, self.dataset("train"), self.batch_size, self._loader_options(), self.samples
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def _eval_loader(self, split: str) -> DataLoader:
        return eval_loader(self.trainer, self.dataset(split), self.eval_batch_size, self._loader_options())

    def predict_images(self, folder: Callable[[str], _Folder]) -> _Folder:
        """`folder(predict_dir)`, with its errors (no such folder, no image in it) naming the key."""
        if self.predict_dir is None:
            raise InputError("data.predict_dir is not set: give the folder of images to predict on")
        try:
            return folder(self.predict_dir)
        except InputError as error:
            raise type(error)(f"data.predict_dir: {error}") from None
