"""Detection LightningDataModules: the synthetic boxes (default), COCO, and any COCO-format json."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor
from torch.utils.data import DataLoader

from hrnet_lit.common.datamodule import TaskDataModule
from hrnet_lit.common.files import require_dir
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.common.loaders import loader_options
from hrnet_lit.detection.contract import DetectionArgs
from hrnet_lit.detection.data.coco import (
    COCO_LAYOUT,
    BadBoxes,
    CocoDetection,
    read_categories,
    read_images,
    read_json,
)
from hrnet_lit.detection.data.coco_categories import COCO_CATEGORIES
from hrnet_lit.detection.data.dataset import DetectionDataset
from hrnet_lit.detection.data.synthetic import SHAPE_CLASSES, SyntheticBoxes
from hrnet_lit.detection.data.transforms import DetectionTransform, collate_detection
from hrnet_lit.errors import InputError


class PredictImages(ImageFolderPredict):
    """A prediction folder served as (uint8 image, path, image id): the detector normalises the image
    itself; `image_ids(paths)` gives the id each image's detections are written under."""

    def __init__(self, root: str | Path, image_ids: Callable[[list[Path]], list[int]]) -> None:
        super().__init__(root)
        self.image_ids = image_ids(self.paths)

    def __getitem__(self, index: int) -> PredictItem:  # type: ignore[override]
        image, path = super().__getitem__(index)
        return image, path, self.image_ids[index]


PredictItem = tuple[Tensor, str, int]


def _collate_predict(batch: list[PredictItem]) -> tuple[list[Tensor], list[str], list[int]]:
    images, paths, image_ids = zip(*batch, strict=True)
    return list(images), list(paths), list(image_ids)


def numbered(paths: list[Path], known: dict[str, int] | None = None) -> list[int]:
    """An image id per file: from `known` (file name -> id), else the number a numeric stem spells (COCO
    names `000000397133.jpg` the image 397133), else the next id above all of those, in file order."""
    known = known or {}
    ids: list[int | None] = [known.get(p.name, int(p.stem) if p.stem.isdigit() else None) for p in paths]
    free = max((i for i in ids if i is not None), default=-1) + 1
    out = []
    for i in ids:
        if i is None:
            i, free = free, free + 1
        out.append(i)
    return out


class DetectionDataModule(TaskDataModule):
    """Train / val / test / predict loaders of (list of images, list of targets) around a subclass's
    `make_dataset`. Images keep their size (the detector resizes); training flips them.

    Args:
        batch_size: images per step (training and evaluation; a list, so sizes may differ).
        num_workers: loader processes; 0 loads in the training process.
        flip: random horizontal flip of training images with their boxes (the official recipe).
        predict_dir: folder of images for `predict`.
    """

    kind = "detection"  # the task this data is for (`HRNetTask.kind`)
    samples = "images"
    transform_class: type[DetectionTransform] = DetectionTransform  # built with the flip probability

    def __init__(
        self, batch_size: int = 2, num_workers: int = 2, flip: bool = True, predict_dir: str | None = None
    ) -> None:
        super().__init__(batch_size, num_workers, predict_dir)
        self.save_hyperparameters()
        self.flip = flip

    @property
    @abstractmethod
    def class_names(self) -> tuple[str, ...]: ...

    @property
    def category_ids(self) -> tuple[int, ...]:
        """The dataset's id of each class, written into the results json (synthetic: 1 ... K)."""
        return tuple(range(1, len(self.class_names) + 1))

    @property
    def task_args(self) -> DetectionArgs:
        """What the detection task takes from its data (the CLI fills these model arguments)."""
        return DetectionArgs(
            num_classes=len(self.class_names),
            class_names=list(self.class_names),
            category_ids=list(self.category_ids),
        )

    @property
    @abstractmethod
    def input_size(self) -> tuple[int, int]:
        """(H, W) of a typical image before the detector resizes it."""

    @abstractmethod
    def make_dataset(self, split: str, transform: DetectionTransform, train: bool) -> DetectionDataset:
        """The dataset of `split` ("train", "val" or "test")."""

    def build_dataset(self, split: str) -> DetectionDataset:
        train = split == "train"
        return self.make_dataset(split, self.transform_class(0.5 if train and self.flip else 0.0), train)

    def _loader_options(self) -> dict[str, Any]:
        return loader_options(self.num_workers, collate_fn=collate_detection)

    def predict_image_ids(self, paths: list[Path]) -> list[int]:
        """The image id of each predict file in `detections.json` (`numbered`)."""
        return numbered(paths)

    def predict_dataloader(self) -> DataLoader:
        options = {**self._loader_options(), "collate_fn": _collate_predict}
        images = self.predict_images(lambda folder: PredictImages(folder, self.predict_image_ids))
        return DataLoader(images, batch_size=self.batch_size, **options)


class SyntheticDetectionDataModule(DetectionDataModule):
    """The built-in `SyntheticBoxes`; split k (train 0, val 1, test 2) draws from seed 3 * seed + k,
    so the splits never share an image.

    Args:
        num_train / num_val: images in the train split / in each of val and test.
        image_size: (H, W) of every image.
        seed: the data's seed (not the run's).
    """

    dataset_class: type[SyntheticBoxes] = SyntheticBoxes  # what `make_dataset` builds

    def __init__(
        self,
        num_train: int = 256,
        num_val: int = 32,
        image_size: tuple[int, int] = (128, 128),
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for key, count in (("num_train", num_train), ("num_val", num_val)):
            if count < 1:
                raise InputError(f"data.{key} must be >= 1, got {count}")
        if len(image_size) != 2 or min(image_size) < 16:
            raise InputError(f"data.image_size must be (height, width) with both >= 16, got {image_size}")
        self.num_train = num_train
        self.num_val = num_val
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.seed = seed

    @property
    def class_names(self) -> tuple[str, ...]:
        return SHAPE_CLASSES

    @property
    def input_size(self) -> tuple[int, int]:
        return self.image_size

    def make_dataset(self, split: str, transform: DetectionTransform, train: bool) -> DetectionDataset:
        offset = {"train": 0, "val": 1, "test": 2}[split]
        size = self.num_train if split == "train" else self.num_val
        return self.dataset_class(size, self.image_size, self.seed * 3 + offset, transform)


class CocoFormatDataModule(DetectionDataModule):
    """A researcher's images with COCO-format jsons (boxes as [x, y, width, height] in pixels).

    The categories are read from the val json at once (the task needs them before setup); the
    train json must list the same ones.

    Args:
        train_images / val_images / test_images: image folders (`file_name` is relative to them).
        train_annotations / val_annotations / test_annotations: the jsons; test defaults to val.
        bad_boxes: `error` refuses a json with a zero-area or outside box, `drop` leaves such boxes
            out; either way each is reported with its image file and annotation id.
        input_size: (H, W) of a typical image, for `summary` (the detector then resizes it; COCO's
            are mostly 480 x 640).
    """

    dataset_class: type[CocoDetection] = CocoDetection  # what `make_dataset` builds

    def __init__(
        self,
        train_images: str,
        train_annotations: str,
        val_images: str,
        val_annotations: str,
        test_images: str | None = None,
        test_annotations: str | None = None,
        bad_boxes: BadBoxes = "error",
        input_size: tuple[int, int] = (480, 640),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bad_boxes not in ("drop", "error"):
            raise InputError(f"data.bad_boxes={bad_boxes!r}: choose drop or error")
        self.splits = {
            "train": (train_images, train_annotations),
            "val": (val_images, val_annotations),
            "test": (test_images or val_images, test_annotations or val_annotations),
        }
        self.bad_boxes = bad_boxes
        self._input_size = (int(input_size[0]), int(input_size[1]))
        self._category_ids, self._class_names = self.read_categories(Path(val_annotations))

    def read_categories(self, path: Path) -> tuple[tuple[int, ...], tuple[str, ...]]:
        return read_categories(read_json(path), path)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def category_ids(self) -> tuple[int, ...]:
        return self._category_ids

    @property
    def input_size(self) -> tuple[int, int]:
        return self._input_size

    def predict_image_ids(self, paths: list[Path]) -> list[int]:
        """A predict folder that is one of the splits' image folders takes that json's image ids, so
        that `detections.json` scores against it; other files as `numbered`."""
        folder = paths[0].parent.resolve() if paths else None
        for images, json_file in self.splits.values():
            path = Path(json_file)
            if folder == Path(images).resolve() and path.is_file():
                known = {name: image_id for image_id, name, _, _ in read_images(read_json(path), path)}
                return numbered(paths, known)
        return numbered(paths)

    def make_dataset(self, split: str, transform: DetectionTransform, train: bool) -> DetectionDataset:
        images, annotations = self.splits[split]
        dataset = self.dataset_class(images, annotations, self.bad_boxes, transform, keep_crowd=not train)
        if dataset.category_ids != self.category_ids:
            raise InputError(
                f"{annotations} lists categories {dataset.category_ids}, but {self.splits['val'][1]} "
                f"lists {self.category_ids}: the splits must share one category list"
            )
        return dataset


class CocoDataModule(CocoFormatDataModule):
    """COCO 2017 detection under `root` (layout: `hrnet_lit.detection.data.coco.COCO_LAYOUT`); test
    scores val2017 (test-dev labels are withheld). Without the files it still knows COCO's 80
    categories, so that `summary` builds the official recipes; `fit` then names what is missing."""

    def __init__(
        self,
        root: str,
        bad_boxes: BadBoxes = "drop",
        input_size: tuple[int, int] = (800, 1216),
        **kwargs: Any,
    ) -> None:
        base = Path(root)
        super().__init__(
            train_images=str(base / "train2017"),
            train_annotations=str(base / "annotations" / "instances_train2017.json"),
            val_images=str(base / "val2017"),
            val_annotations=str(base / "annotations" / "instances_val2017.json"),
            bad_boxes=bad_boxes,
            input_size=input_size,
            **kwargs,
        )
        self.root = root

    def read_categories(self, path: Path) -> tuple[tuple[int, ...], tuple[str, ...]]:
        if path.is_file():
            return super().read_categories(path)
        return tuple(COCO_CATEGORIES), tuple(COCO_CATEGORIES.values())

    def make_dataset(self, split: str, transform: DetectionTransform, train: bool) -> DetectionDataset:
        require_dir(Path(self.root), COCO_LAYOUT, key="data.root")
        return super().make_dataset(split, transform, train)
