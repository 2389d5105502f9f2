"""PASCAL-Context (59 classes) in the official layout of HRNet-Semantic-Segmentation: list files of
`image_path label_path` pairs (`train.lst`, `val.lst`) and label PNGs of the 60-class set (0 the
background); the 59-class benchmark ignores the background and shifts the rest down by one (the
official `reduce_zero_label`). Evaluation resizes the image's short side to 520 (the official base
size) and scores the logits upsampled to the label's own size."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from hrnet_lit.common.palette import make_palette
from hrnet_lit.segmentation.data.lip import resize_pair
from hrnet_lit.segmentation.data.lists import ListDataModule, ListSegmentation
from hrnet_lit.segmentation.data.transforms import SegTransform, mask_tensor

PASCAL_CONTEXT_CLASSES: tuple[str, ...] = (
    "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
    "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow", "cup",
    "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground", "horse", "keyboard",
    "light", "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant", "road",
    "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table", "track", "train",
    "tree", "truck", "tvmonitor", "wall", "water", "window", "wood",
)  # fmt: skip
# Stored 0 (background) is ignored, stored k (1..59) is class k - 1; above 59 stays out of range.
_STORED_TO_TRAIN_ID = np.concatenate([[255], np.arange(255)]).astype(np.uint8)
PASCAL_CONTEXT_LAYOUT = """<root>/
  train.lst, val.lst   (image_path label_path per line, relative to root)
  the images and the 60-class label PNGs they name (0: background)"""


class ShortSideEvalTransform:
    """The official evaluation input: the image resized so its short side is `short` pixels, the label
    untouched."""

    def __init__(self, short: int) -> None:
        self.short = int(short)

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]:
        h, w = image.shape[:2]
        ratio = self.short / min(h, w)
        rgb, _ = resize_pair(image, None, (max(1, round(h * ratio)), max(1, round(w * ratio))))
        return rgb, mask_tensor(mask)


class PascalContextSegmentation(ListSegmentation):
    """The samples of an official PASCAL-Context list file, labels reduced to the 59 classes."""

    classes = PASCAL_CONTEXT_CLASSES
    palette = make_palette(len(PASCAL_CONTEXT_CLASSES))
    label_lut = _STORED_TO_TRAIN_ID
    layout = PASCAL_CONTEXT_LAYOUT


class PascalContextDataModule(ListDataModule):
    """PASCAL-Context, 59 classes (background ignored); `test` scores val.

    Args:
        root: the folder of the list files (the paths in them are relative to it).
        crop_size: training crop (H, W); official 520 x 520.
        train_list, val_list: the official list files.
        base_size: the short side of an evaluation image (official 520).
    """

    source = PascalContextSegmentation

    def __init__(
        self,
        root: str,
        crop_size: tuple[int, int] = (520, 520),
        train_list: str = "train.lst",
        val_list: str = "val.lst",
        base_size: int = 520,
        **kwargs: Any,
    ) -> None:
        super().__init__(root=root, crop_size=crop_size, **kwargs)
        self.lists = {"train": train_list, "val": val_list}
        self.base_size = base_size

    def eval_transform(self) -> SegTransform:
        return ShortSideEvalTransform(self.base_size)
