"""The official HRNet-C sample on ``uint8`` tensors: timm's RandomResizedCrop + flip for training,
resize + centre crop for evaluation, computed by torch's ``uint8`` resampling instead of PIL's.

The crops are timm's (its `RandomResizedCropAndInterpolation.get_params`, drawing from Python's RNG,
which `KeyedAugment` keys per sample) and the flip torchvision's draw, so each sample is cut where it
was; torch's antialiased bilinear / bicubic resampling matches PIL's within one grey level (0.2 %
of the values of a 500 x 375 photo resized for 224 differ, by one) at a third of the cost. The
images leave as ``uint8`` and the task normalises them on its device.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from timm.data.transforms import RandomResizedCropAndInterpolation, str_to_interp_mode
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

# The interpolations torch resamples uint8 images with (timm's "random" picks per sample: PIL only).
TENSOR_INTERPOLATIONS = ("bilinear", "bicubic")


def rgb_tensor(image: Image.Image | np.ndarray) -> Tensor:
    """An RGB PIL image or (H, W, 3) ``uint8`` array as a (3, H, W) ``uint8`` tensor (channels last
    in memory, which torch's ``uint8`` resampling prefers); an array is not copied."""
    pixels = image if isinstance(image, np.ndarray) else np.array(image)
    return torch.from_numpy(pixels).permute(2, 0, 1)


class PILInput:
    """A PIL transform (timm's colour jitter, auto-augment) fed arrays or PIL images alike."""

    def __init__(self, transform: Callable[[Image.Image], Tensor]) -> None:
        self.transform = transform

    def __call__(self, image: Image.Image | np.ndarray) -> Tensor:
        return self.transform(Image.fromarray(image) if isinstance(image, np.ndarray) else image)


class TrainCrop:
    """timm's RandomResizedCrop(`size`, `scale`, `ratio`) and a horizontal flip with probability
    `hflip`, on a ``uint8`` tensor."""

    def __init__(
        self,
        size: int,
        scale: tuple[float, float],
        ratio: tuple[float, float],
        hflip: float,
        interpolation: str,
    ) -> None:
        self.size = [size, size]
        self.scale, self.ratio, self.hflip = tuple(scale), tuple(ratio), hflip
        self.interpolation = str_to_interp_mode(interpolation)

    def __call__(self, image: Image.Image | np.ndarray) -> Tensor:
        rgb = rgb_tensor(image)
        top, left, height, width = RandomResizedCropAndInterpolation.get_params(rgb, self.scale, self.ratio)
        out = TF.resized_crop(
            rgb, top, left, height, width, self.size, interpolation=self.interpolation, antialias=True
        )
        if self.hflip > 0 and torch.rand(1) < self.hflip:
            out = out.flip(-1)
        return out.contiguous()


class EvalCrop:
    """Resize the shorter side to `resize` (the longer one in proportion, truncated, as torchvision's
    Resize), then the centre `size` x `size` crop, on a ``uint8`` tensor."""

    def __init__(self, size: int, resize: int, interpolation: str) -> None:
        self.size, self.resize = size, resize
        self.interpolation = str_to_interp_mode(interpolation)

    def __call__(self, image: Image.Image | np.ndarray) -> Tensor:
        rgb = rgb_tensor(image)
        out = TF.resize(rgb, [self.resize], interpolation=self.interpolation, antialias=True)
        return TF.center_crop(out, [self.size, self.size]).contiguous()
