"""LIP (Look Into Person, human parsing, 20 classes) in the official layout, with its left / right label
swap: in training a mirrored image swaps the left and right arm, leg and shoe labels, and the flip test
swaps their channels back (`SegmentationTask.flip_pairs`).

The official training sample: flipped (with the swap) half of the time, resized to the crop (473 x
473), then rescaled, cropped and padded; evaluation resizes the image to 473 x 473 and scores the
logits upsampled to the label's own size.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from hrnet_lit.common.normalize import image_tensor
from hrnet_lit.common.palette import make_palette
from hrnet_lit.segmentation.data.lists import ListDataModule, ListSegmentation
from hrnet_lit.segmentation.data.transforms import SegTrainTransform, SegTransform, mask_tensor

LIP_CLASSES: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress", "coat", "socks", "pants",
    "jumpsuits", "scarf", "skirt", "face", "left_arm", "right_arm", "left_leg", "right_leg", "left_shoe",
    "right_shoe",
)  # fmt: skip
LIP_FLIP_PAIRS: tuple[tuple[int, int], ...] = ((14, 15), (16, 17), (18, 19))  # the official swap
LIP_LAYOUT = """<root>/
  list/lip/trainList.txt   (image label reversed_label, relative to root)
  list/lip/valList.txt     (image label)
  lip/TrainVal_images/{train_images,val_images}/*.jpg
  lip/TrainVal_parsing_annotations/{train_segmentations,val_segmentations}/*.png"""


def swap_labels(mask: np.ndarray, pairs: tuple[tuple[int, int], ...] | list[list[int]]) -> np.ndarray:
    """`mask` with each pair of labels exchanged (a mirrored person's left and right parts)."""
    lut = np.arange(256, dtype=mask.dtype) if mask.dtype == np.uint8 else None
    if lut is not None:
        for a, b in pairs:
            lut[a], lut[b] = b, a
        return lut[mask]
    swapped = mask.copy()
    for a, b in pairs:
        swapped[mask == a], swapped[mask == b] = b, a
    return swapped


def resize_pair(
    image: np.ndarray, mask: np.ndarray | None, size: tuple[int, int]
) -> tuple[Tensor, Tensor | None]:
    """The image (bilinear) and mask (nearest) resized to `size` (H, W), as the official `resize_image`."""
    rgb = TF.resize(image_tensor(image), list(size), interpolation=InterpolationMode.BILINEAR, antialias=True)
    if mask is None:
        return rgb, None
    labels = torch.from_numpy(np.ascontiguousarray(mask))[None]
    return rgb, TF.resize(labels, list(size), interpolation=InterpolationMode.NEAREST)[0]


class LIPTrainTransform:
    """The official LIP training sample: flip with the label swap (p 0.5), resize to the crop, then the
    shared rescale / crop / pad (its own flip off: the swap is done) and optional colour jitter."""

    def __init__(
        self,
        crop_size: tuple[int, int],
        scale_range: tuple[float, float],
        ignore_index: int,
        jitter: float = 0.0,
    ) -> None:
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.rest = SegTrainTransform(self.crop_size, scale_range, ignore_index, flip=False, jitter=jitter)

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]:
        if float(torch.rand(())) < 0.5:
            image, mask = image[:, ::-1], swap_labels(mask[:, ::-1], LIP_FLIP_PAIRS)
        rgb, labels = resize_pair(np.ascontiguousarray(image), mask, self.crop_size)
        assert labels is not None
        return self.rest(rgb.permute(1, 2, 0).numpy(), labels.numpy())


class ResizedEvalTransform:
    """The official LIP evaluation input: the image resized to `size` (H, W), the label untouched (the
    task scores its logits upsampled to the label's size)."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = (int(size[0]), int(size[1]))

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]:
        rgb, _ = resize_pair(image, None, self.size)
        return rgb, mask_tensor(mask)


class LIPSegmentation(ListSegmentation):
    """The samples of an official LIP list file (labels 0..19 as stored, 255 ignored)."""

    classes = LIP_CLASSES
    palette = make_palette(len(LIP_CLASSES))
    layout = LIP_LAYOUT


class LIPDataModule(ListDataModule):
    """LIP, 20 classes; its test labels are withheld, so `test` scores val. Give the task the swap for
    the flip test: `model.flip_pairs: [[14, 15], [16, 17], [18, 19]]` (configs/lip_w48.yaml does).

    Args:
        root: the folder holding `list/lip/` and `lip/`.
        crop_size: training crop and evaluation input (H, W); official 473 x 473.
        train_list, val_list: the official list files.
        scale_range: the official rescaling 0.5 ... 1.6 (`SCALE_FACTOR: 11`).
    """

    source = LIPSegmentation
    flip_pairs: ClassVar[list[list[int]]] = [list(p) for p in LIP_FLIP_PAIRS]

    def __init__(
        self,
        root: str,
        crop_size: tuple[int, int] = (473, 473),
        train_list: str = "list/lip/trainList.txt",
        val_list: str = "list/lip/valList.txt",
        scale_range: tuple[float, float] = (0.5, 1.6),
        **kwargs: Any,
    ) -> None:
        super().__init__(root=root, crop_size=crop_size, scale_range=scale_range, **kwargs)
        self.lists = {"train": train_list, "val": val_list}

    def train_transform(self) -> SegTransform:
        return LIPTrainTransform(self.crop_size, self.scale_range, self.ignore_index, self.color_jitter)

    def eval_transform(self) -> SegTransform:
        return ResizedEvalTransform(self.crop_size)
