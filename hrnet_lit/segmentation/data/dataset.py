"""The on-disk segmentation datasets' common base: image/mask pairs and label mapping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from hrnet_lit.common.files import read_labels, read_rgb_array
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.segmentation.data.transforms import SegEvalTransform, SegTransform


def pair_with_masks(
    images: Sequence[Path], mask_of: Callable[[Path], Path], image_dir: Path, layout: str
) -> list[tuple[Path, Path]]:
    """Match every image with its mask file; a missing mask is an error, not a skipped sample."""
    if not images:
        raise MissingInputError(f"no images found in {image_dir}\nexpected layout:\n{layout}")
    pairs = []
    for image in images:
        mask = mask_of(image)
        if not mask.is_file():
            raise MissingInputError(f"annotation {mask} for image {image} not found")
        pairs.append((image, mask))
    return pairs


class SegmentationDataset(Dataset[tuple[Tensor, Tensor]]):
    """A list of (image file, mask file) pairs served as transformed (image, mask) tensors.

    Subclasses find the pairs and set ``classes``/``palette``; a 256-entry ``label_lut`` maps stored
    label values to training ids. Every loaded mask is checked (size, label range) because a silently
    wrong label poisons training far from where the mistake was made.
    """

    classes: tuple[str, ...] = ()
    palette: np.ndarray = np.zeros((0, 3), dtype=np.uint8)
    ignore_index: int = 255
    label_lut: np.ndarray | None = None

    def __init__(self, samples: Sequence[tuple[Path, Path]], transform: SegTransform | None = None) -> None:
        self.samples = list(samples)
        self.transform = transform if transform is not None else SegEvalTransform()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.transform(*self.load(index))

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The checked, label-mapped (RGB uint8 image, mask) arrays before any transform; the mask is
        uint8 whenever the classes and the ignore index fit in 8 bits."""
        image_path, mask_path = self.samples[index]
        image = read_rgb_array(image_path)
        mask = read_labels(mask_path)
        if mask.shape != image.shape[:2]:
            raise InputError(
                f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image {image_path} "
                f"is {image.shape[1]}x{image.shape[0]}"
            )
        if self.label_lut is not None:
            if mask.dtype != np.uint8:
                raise InputError(f"mask {mask_path} must be an 8-bit label image, got {mask.dtype}")
            mask = cv2.LUT(mask, self.label_lut)  # = label_lut[mask], 4x faster on a full Cityscapes mask
        self._check_labels(mask, mask_path)
        if mask.dtype != np.uint8 and self.num_classes <= 255 and self.ignore_index <= 255:
            mask = mask.astype(np.uint8)  # checked: every label fits, and 8 bits travel 8x cheaper
        return image, mask

    def _check_labels(self, mask: np.ndarray, mask_path: Path) -> None:
        bad = ((mask < 0) | (mask >= self.num_classes)) & (mask != self.ignore_index)
        if bad.any():
            values = np.unique(mask[bad])
            shown = ", ".join(map(str, values[:20].tolist())) + (", ..." if len(values) > 20 else "")
            raise InputError(
                f"mask {mask_path} contains labels [{shown}] (after label mapping); valid labels are "
                f"0..{self.num_classes - 1} and the ignore index {self.ignore_index}"
            )
