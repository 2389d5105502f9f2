"""Image normalisation shared by every task: ImageNet statistics, as the pretrained backbones expect."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def image_tensor(image: np.ndarray) -> Tensor:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image of shape (H, W, 3), got {image.dtype} {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


def normalize(image: np.ndarray) -> Tensor:
    """RGB ``uint8`` (H, W, 3) array -> ImageNet-normalised ``float32`` (3, H, W) tensor."""
    pixels = TF.to_dtype(image_tensor(image), torch.float32, scale=True)
    return TF.normalize(pixels, IMAGENET_MEAN, IMAGENET_STD)


def normalize_batch(images: Tensor) -> Tensor:
    """``uint8`` (N, 3, H, W) images -> ImageNet-normalised ``float32``, computed on their device.

    Loaders hand ``uint8`` to the device (a quarter of the bytes to copy, no float work on the loader's
    core) and the task or the predictor normalises there; equal to :func:`normalize` within float
    rounding (the mean and std are folded into one scale and shift).
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"expected uint8 images of shape (N, 3, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1) * 255.0
    return (images.float() - mean) / std


def denormalize(image: Tensor) -> np.ndarray:
    """Undo :func:`normalize` for visualisation: (3, H, W) tensor -> ``uint8`` (H, W, 3) array."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    rgb = (image.detach().float().cpu() * std + mean).clamp(0.0, 1.0)
    return (rgb * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
