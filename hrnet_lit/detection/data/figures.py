"""The pose task's synthetic figures as a one-class detection set, so that a person detector for
detector-fed top-down pose trains on the embedded data.

The images are those the pose data module draws (`SyntheticPoses`, same image size and seeds per
split), the boxes its COCO annotations' person boxes, the one class `person` with COCO's category
id 1: a detector trained here feeds pose `validate` and `predict` on the same figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hrnet_lit.detection.data.datamodules import DetectionDataModule
from hrnet_lit.detection.data.dataset import DetectionDataset
from hrnet_lit.detection.data.transforms import DetectionTransform, RawSample
from hrnet_lit.errors import InputError
from hrnet_lit.pose.data.synthetic import SyntheticPoses

FIGURE_CLASSES: tuple[str, ...] = ("person",)


class SyntheticFigureBoxes(DetectionDataset):
    """`SyntheticPoses(num_images, image_size, seed)` with each figure's box (label 1); image id
    `i + 1` is image `i`, as in the pose set's annotations."""

    classes = FIGURE_CLASSES

    def __init__(
        self,
        num_images: int,
        image_size: tuple[int, int],
        seed: int,
        transform: DetectionTransform | None = None,
    ) -> None:
        super().__init__(transform)
        self.poses = SyntheticPoses(num_images, image_size, seed)
        self.boxes = {ann["image_id"]: ann["bbox"] for ann in self.poses.coco()["annotations"]}

    def __len__(self) -> int:
        return self.poses.num_images

    def raw(self, index: int) -> RawSample:
        if not 0 <= index < len(self):
            raise IndexError(f"image index {index} out of range for {len(self)} images")
        x, y, w, h = self.boxes[index + 1]
        one = np.ones(1, dtype=np.int64)
        return RawSample(
            np.array(self.poses.image(index)),
            np.array([[x, y, x + w, y + h]], dtype=np.float32),
            one,
            np.zeros_like(one),
            np.array([w * h], dtype=np.float32),
            index + 1,
        )


class SyntheticFiguresDataModule(DetectionDataModule):
    """The pose quickstart's figures with their person boxes. Split k (train 0, val 1, test 2) draws
    from seed 3 * seed + k, as `SyntheticPoseDataModule` does, so with the same `seed` and
    `image_size` the val images are the pose val images.

    Args:
        num_train / num_val: images in the train split / in each of val and test.
        image_size: (H, W) of every image (the pose quickstart's 64 x 64).
        seed: the data's seed (not the run's).
    """

    def __init__(
        self,
        num_train: int = 512,
        num_val: int = 128,
        image_size: tuple[int, int] = (64, 64),
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
        return FIGURE_CLASSES

    @property
    def input_size(self) -> tuple[int, int]:
        return self.image_size

    def make_dataset(self, split: str, transform: DetectionTransform, train: bool) -> DetectionDataset:
        offset = {"train": 0, "val": 1, "test": 2}[split]
        size = self.num_train if split == "train" else self.num_val
        return SyntheticFigureBoxes(size, self.image_size, self.seed * 3 + offset, transform)
