"""Segmentation `predict` results as colour-coded masks (the dataset's palette) and optional overlays;
and the atomic image write every task's results use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hrnet_lit.data import denormalize


def colour(mask: torch.Tensor, palette: np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) palette colours; ids outside the palette (ignored pixels) are black."""
    ids = mask.cpu().numpy()
    out = np.zeros((*ids.shape, 3), dtype=np.uint8)
    known = ids < len(palette)
    out[known] = palette[ids[known]]
    return out


def write_masks(
    prediction: dict[str, Any], folder: Path, palette: np.ndarray, overlay: bool, alpha: float
) -> None:
    """`<folder>/<image stem>.png` in palette colours per image and, with `overlay`, `<stem>_overlay.jpg`
    (the mask blended over the input with weight `alpha`)."""
    palette = np.asarray(palette, dtype=np.uint8)
    for mask, image, path in zip(prediction["mask"], prediction["image"], prediction["paths"], strict=True):
        colours = palette[mask.cpu().numpy()]
        stem = Path(path).stem
        save_atomically(Image.fromarray(colours), folder / f"{stem}.png", "PNG")
        if overlay:
            blend = (1 - alpha) * denormalize(image.cpu()) + alpha * colours
            save_atomically(Image.fromarray(blend.astype(np.uint8)), folder / f"{stem}_overlay.jpg", "JPEG")


def save_atomically(image: Image.Image, path: Path, image_format: str) -> None:
    """Write `path` whole or not at all: a run stopped mid-write leaves no half-written image, only
    (at worst, on a hard kill) a hidden `.<name>.*.tmp` next to it."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per process: DDP ranks write side by side
    try:
        image.save(temp, format=image_format)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
