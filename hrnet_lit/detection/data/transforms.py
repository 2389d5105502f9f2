"""Detection samples and their augmentation: images stay `uint8` at their own size.

The detector's own transform (torchvision's `GeneralizedRCNNTransform`) resizes to the shorter side
and normalises, so nothing here resizes or normalises: that would happen twice. The images travel as
`uint8` and become 0-1 floats on the task's device (`unit_float`), so that the loader's core does no
float work and a quarter of the bytes travel. The only training augmentation is the official one, a
horizontal flip of the image with its boxes (torchvision transforms v2 over `tv_tensors.BoundingBoxes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from hrnet_lit.common.normalize import image_tensor

Target = dict[str, Tensor]  # boxes (N, 4) xyxy pixels, labels, iscrowd, area (N), image_id ()


@dataclass
class RawSample:
    """One image and its annotations as stored: uint8 RGB (H, W, 3), xyxy boxes in pixels, labels
    1 ... K (0 is the detector's background), COCO's crowd flags and object areas."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    iscrowd: np.ndarray
    area: np.ndarray
    image_id: int


class DetectionTransform:
    """RawSample -> (`uint8` image (3, H, W), target), flipped horizontally with probability
    `flip_prob` (0 for evaluation)."""

    def __init__(self, flip_prob: float = 0.0) -> None:
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
        self.flip = v2.RandomHorizontalFlip(flip_prob) if flip_prob > 0 else None

    def __call__(self, sample: RawSample) -> tuple[Tensor, Target]:
        image = tv_tensors.Image(image_tensor(sample.image))
        boxes = tv_tensors.BoundingBoxes(
            torch.as_tensor(sample.boxes, dtype=torch.float32).reshape(-1, 4),
            format=tv_tensors.BoundingBoxFormat.XYXY,
            canvas_size=tuple(image.shape[-2:]),
        )
        if self.flip is not None:
            image, boxes = self.flip(image, boxes)
        target = {
            "boxes": boxes.as_subclass(Tensor),
            "labels": torch.as_tensor(sample.labels, dtype=torch.int64),
            "iscrowd": torch.as_tensor(sample.iscrowd, dtype=torch.int64),
            "area": torch.as_tensor(sample.area, dtype=torch.float32),
            "image_id": torch.tensor(sample.image_id, dtype=torch.int64),
        }
        return image.as_subclass(Tensor), target


def unit_float(images: list[Tensor]) -> list[Tensor]:
    """`uint8` images as the 0-1 floats the detector takes (float images as they are)."""
    return [TF.to_dtype(i, torch.float32, scale=True) if i.dtype == torch.uint8 else i for i in images]


def collate_detection(batch: list[tuple[Tensor, Target]]) -> tuple[list[Tensor], list[Target]]:
    """Images of different sizes stay a list: the detector pads them itself."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)
