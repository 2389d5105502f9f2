"""Joint image/mask transforms shared by every segmentation source.

Every dataset hands a transform an RGB ``uint8`` array (H, W, 3) and an integer mask (H, W); the
transform returns a ``uint8`` image tensor (3, H, W) and the mask as a tensor (``uint8`` where the
dataset's labels fit in 8 bits, 255 = ignore; ``int64`` otherwise). The task normalises the image on
its device (`SegmentationTask.normalize_inputs`): a quarter of the bytes to copy and no float work on
the loader's core. Keeping one pipeline means model variants differ only in the model, never in the
augmentation.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from hrnet_lit.common.normalize import IMAGENET_MEAN, image_tensor

# The colour of padding: the ImageNet mean, which the official code pads with (0 after normalisation),
# rounded to 8 bits (under half a grey level from it, at most 0.0082 after normalisation).
PAD_COLOUR = torch.tensor([round(255 * m) for m in IMAGENET_MEAN], dtype=torch.uint8)


class SegTransform(Protocol):
    """What a dataset expects of its ``transform`` argument."""

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]: ...


def _check_mask(image: np.ndarray, mask: np.ndarray) -> None:
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape[:2]}")


def mask_tensor(mask: np.ndarray) -> Tensor:
    """The mask as a tensor: ``uint8`` stays (a view), other integer types become ``int64``."""
    if mask.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(mask))
    return torch.from_numpy(mask.astype(np.int64))


def _nearest_indices(start: int, stop: int, scaled: int, source: int) -> np.ndarray:
    """Source indices of output pixels ``start..stop-1`` when ``source`` pixels are resized to ``scaled``.

    Nearest-neighbour by index gathering never blends labels, works for any mask dtype, and lets the
    mask be resized and cropped in one step, touching only the pixels that survive the crop.
    """
    return np.minimum(((np.arange(start, stop) + 0.5) * (source / scaled)).astype(np.int64), source - 1)


def _resize(rgb: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(rgb.shape[1:]) == size:
        return rgb
    return TF.resize(rgb, list(size), interpolation=InterpolationMode.BILINEAR, antialias=True)


def resized_crop(rgb: Tensor, size: tuple[int, int], box: tuple[int, int, int, int]) -> Tensor:
    """``resize(rgb, size)[:, top:bottom, left:right]`` for ``box = (top, left, bottom, right)``, equal
    to it pixel for pixel, computing only what the crop needs.

    torch resizes ``uint8`` images in two passes, along the width and then along the height, each
    output pixel a function of the pixels under its filter in that direction alone. So the width pass
    runs on the source rows that the crop's rows read, and the height pass on the crop's columns;
    the rows outside the window are zeros that no kept output pixel reads (`tests/test_data_transforms.py`
    checks the equality over random sizes, scales and crops).
    """
    height = rgb.shape[1]
    top, left, bottom, right = box
    if size[0] == height:  # the width pass alone, on the crop's rows
        return _resize(rgb[:, top:bottom], (bottom - top, size[1]))[:, :, left:right]
    scale = height / size[0]
    reach = max(scale, 1.0) + 2  # the bilinear filter's half-width in source rows, and a margin
    first = max(int((top + 0.5) * scale - reach), 0)
    last = min(int((bottom - 0.5) * scale + reach) + 1, height)
    rows = _resize(rgb[:, first:last], (last - first, size[1]))[:, :, left:right]
    # channels last, as the loaders' images are (torch's uint8 kernel fails on some tiny CHW inputs)
    window = rows.new_zeros((height, right - left, rgb.shape[0])).permute(2, 0, 1)
    window[:, first:last] = rows
    return _resize(window, (size[0], right - left))[:, top:bottom]


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def _randint(high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in ``[0, high]``."""
    return int(torch.randint(high + 1, (), generator=generator).item())


class SegTrainTransform:
    """Random rescale, crop (with padding), horizontal flip and optional colour jitter: the official
    recipe's sample (HRNet-Semantic-Segmentation's `gen_sample`) without the jitter, which it does not do.

    Randomness comes from torch's RNG: by default the global one, which the training loader seeds
    for every sample from (seed, epoch, index) (see ``common/resumable.py``), so a sample's augmentation
    does not depend on the worker that loads it; pass an explicit ``generator`` for a fixed draw.
    The image is rescaled as a whole and then cropped, as the official code does, but only the
    pixels the crop keeps are computed (`resized_crop`, the same pixels). Padding is the ImageNet
    mean colour (`PAD_COLOUR`), the mask's padding ``ignore_index`` so the loss skips it.

    Args:
        jitter: brightness, contrast and saturation factors drawn from ``[1 - jitter, 1 + jitter]``,
            applied to the crop in float and rounded back to 8 bits; 0 (official) draws none.
    """

    def __init__(
        self,
        crop_size: tuple[int, int],
        scale_range: tuple[float, float] = (0.5, 2.0),
        ignore_index: int = 255,
        flip: bool = True,
        jitter: float = 0.0,
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

        rgb = resized_crop(rgb, (height, width), (top, left, bottom, right))
        rows = _nearest_indices(top, bottom, height, mask.shape[0])
        cols = _nearest_indices(left, right, width, mask.shape[1])
        target = mask_tensor(mask[rows[:, None], cols[None, :]])

        if self.flip and torch.rand((), generator=generator).item() < 0.5:
            rgb, target = rgb.flip(-1), target.flip(-1)

        if self.jitter > 0:
            rgb = self._jitter(rgb, generator)

        if rgb.shape[1:] != self.crop_size:
            padded = PAD_COLOUR.view(3, 1, 1).expand(3, crop_h, crop_w).clone()
            padded[:, : rgb.shape[1], : rgb.shape[2]] = rgb
            rgb = padded
            target = torch.nn.functional.pad(
                target, (0, crop_w - target.shape[1], 0, crop_h - target.shape[0]), value=self.ignore_index
            )
        return rgb, target

    def _jitter(self, rgb: Tensor, generator: torch.Generator | None) -> Tensor:
        low, high = 1.0 - self.jitter, 1.0 + self.jitter
        pixels = TF.to_dtype(rgb, torch.float32, scale=True)
        pixels = TF.adjust_brightness(pixels, _uniform(low, high, generator))
        pixels = TF.adjust_contrast(pixels, _uniform(low, high, generator))
        pixels = TF.adjust_saturation(pixels, _uniform(low, high, generator))
        return pixels.mul_(255.0).round_().to(torch.uint8)


class SegEvalTransform:
    """The whole image and its untouched mask, as they are: no copy (views of the arrays)."""

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]:
        _check_mask(image, mask)
        return image_tensor(image), mask_tensor(mask)
