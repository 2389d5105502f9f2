"""Instance samples: a detection sample (`RawSample`) with one binary mask per object, its transform
(the official horizontal flip of image, boxes and masks together) and the datasets' common base."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor
from torchvision import tv_tensors

from hrnet_lit.common.normalize import image_tensor
from hrnet_lit.detection.data.dataset import DetectionDataset
from hrnet_lit.detection.data.transforms import DetectionTransform, RawSample, Target


@dataclass
class InstanceSample(RawSample):
    """A `RawSample` with `masks`: (N, H, W) uint8, 1 on the pixels of each object."""

    masks: np.ndarray

    def select(self, keep: np.ndarray) -> InstanceSample:
        """The sample with only the objects where `keep` is true."""
        per_object = {
            f.name: getattr(self, f.name)[keep] for f in fields(self) if f.name not in ("image", "image_id")
        }
        return InstanceSample(image=self.image, image_id=self.image_id, **per_object)


class InstanceTransform(DetectionTransform):
    """InstanceSample -> (`uint8` image (3, H, W), target with `masks` (N, H, W) uint8), flipped
    horizontally with probability `flip_prob` (0 for evaluation)."""

    def __call__(self, sample: InstanceSample) -> tuple[Tensor, Target]:  # type: ignore[override]
        image = tv_tensors.Image(image_tensor(sample.image))
        size = tuple(image.shape[-2:])
        boxes = tv_tensors.BoundingBoxes(
            torch.as_tensor(sample.boxes, dtype=torch.float32).reshape(-1, 4),
            format=tv_tensors.BoundingBoxFormat.XYXY,
            canvas_size=size,
        )
        masks = tv_tensors.Mask(torch.as_tensor(sample.masks, dtype=torch.uint8).reshape(-1, *size))
        if self.flip is not None:
            image, boxes, masks = self.flip(image, boxes, masks)
        target = {
            "boxes": boxes.as_subclass(Tensor),
            "labels": torch.as_tensor(sample.labels, dtype=torch.int64),
            "masks": masks.as_subclass(Tensor),
            "iscrowd": torch.as_tensor(sample.iscrowd, dtype=torch.int64),
            "area": torch.as_tensor(sample.area, dtype=torch.float32),
            "image_id": torch.tensor(sample.image_id, dtype=torch.int64),
        }
        return image.as_subclass(Tensor), target


class InstanceDataset(DetectionDataset):
    """Subclasses give `raw(index)` as an `InstanceSample`; crowd objects as `DetectionDataset` says
    (dropped in training, kept and flagged for evaluation), with their masks."""

    def __init__(self, transform: InstanceTransform | None = None, keep_crowd: bool = True) -> None:
        super().__init__(keep_crowd=keep_crowd)
        self.transform = transform if transform is not None else InstanceTransform()

    @abstractmethod
    def raw(self, index: int) -> InstanceSample:
        """Sample `index` as stored, before any transform."""

    def __getitem__(self, index: int) -> tuple[Tensor, Target]:
        sample = self.raw(index)
        if not self.keep_crowd:
            sample = sample.select(sample.iscrowd == 0)
        return self.transform(sample)
