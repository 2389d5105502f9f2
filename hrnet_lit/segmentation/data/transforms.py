"""Joint image/mask transforms shared by every segmentation source.

Every dataset hands a transform an RGB ``uint8`` array (H, W, 3) and an integer mask (H, W); the
transform returns a normalised ``float32`` tensor (3, H, W) and an ``int64`` mask (H, W). Keeping one
pipeline means model variants differ only in the model, never in the augmentation.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD, image_tensor, normalize


class SegTransform(Protocol):
    """What a dataset expects of its ``transform`` argument."""

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]: ...


def _check_mask(image: np.ndarray, mask: np.ndarray) -> None:
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape[:2]}")


def _nearest_indices(start: int, stop: int, scaled: int, source: int) -> np.ndarray:
    """Source indices of output pixels ``start..stop-1`` when ``source`` pixels are resized to ``scaled``.

    Nearest-neighbour by index gathering never blends labels, works for any mask dtype, and lets the
    mask be resized and cropped in one step, touching only the pixels that survive the crop.
    """
    return np.minimum(((np.arange(start, stop) + 0.5) * (source / scaled)).astype(np.int64), source - 1)


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def _randint(high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in ``[0, high]``."""
    return int(torch.randint(high + 1, (), generator=generator).item())


class SegTrainTransform:
    """Random rescale, crop (with padding), horizontal flip and colour jitter, then normalisation.

    Randomness comes from torch's RNG: by default the global one, which the training loader seeds
    for every sample from (seed, epoch, index) (see ``data/resumable.py``), so a sample's augmentation
    does not depend on the worker that loads it; pass an explicit ``generator`` for a fixed draw.
    Padding happens after normalisation with 0, i.e. the ImageNet mean colour, while the mask is
    padded with ``ignore_index`` so the loss skips it.
    """

    def __init__(
        self,
        crop_size: tuple[int, int],
        scale_range: tuple[float, float] = (0.5, 2.0),
        ignore_index: int = 255,
        flip: bool = True,
        jitter: float = 0.2,
    ) -> None:
        if len(crop_size) != 2 or min(crop_size) < 1:
            raise ValueError(f"crop_size must be two positive ints (height, width), got {crop_size}")
        if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.ignore_index = ignore_index
        self.flip = flip
        self.jitter = jitter

    def __call__(
        self, image: np.ndarray, mask: np.ndarray, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        rgb = image_tensor(image)
        _check_mask(image, mask)

        scale = _uniform(*self.scale_range, generator)
        height, width = max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[2] * scale))
        crop_h, crop_w = self.crop_size
        top, left = _randint(max(height - crop_h, 0), generator), _randint(max(width - crop_w, 0), generator)
        bottom, right = min(top + crop_h, height), min(left + crop_w, width)

        rgb = TF.resize(rgb, [height, width], interpolation=InterpolationMode.BILINEAR, antialias=True)
        rgb = rgb[:, top:bottom, left:right]
        rows = _nearest_indices(top, bottom, height, mask.shape[0])
        cols = _nearest_indices(left, right, width, mask.shape[1])
        target = torch.from_numpy(mask[rows[:, None], cols[None, :]].astype(np.int64))

        if self.flip and torch.rand((), generator=generator).item() < 0.5:
            rgb, target = rgb.flip(-1), target.flip(-1)

        pixels = TF.to_dtype(rgb, torch.float32, scale=True)
        if self.jitter > 0:
            low, high = 1.0 - self.jitter, 1.0 + self.jitter
            pixels = TF.adjust_brightness(pixels, _uniform(low, high, generator))
            pixels = TF.adjust_contrast(pixels, _uniform(low, high, generator))
            pixels = TF.adjust_saturation(pixels, _uniform(low, high, generator))
        pixels = TF.normalize(pixels, IMAGENET_MEAN, IMAGENET_STD)

        pad = (0, crop_w - pixels.shape[2], 0, crop_h - pixels.shape[1])
        pixels = torch.nn.functional.pad(pixels, pad, value=0.0)
        target = torch.nn.functional.pad(target, pad, value=self.ignore_index)
        return pixels, target


class SegEvalTransform:
    """Normalisation only: evaluation scores the full-resolution image against its untouched mask."""

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]:
        _check_mask(image, mask)
        return normalize(image), torch.from_numpy(mask.astype(np.int64))
