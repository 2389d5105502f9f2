"""Segmentation `predict` results as colour-coded masks (the dataset's palette) and optional overlays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hrnet_lit.common.atomic import save_atomically
from hrnet_lit.common.normalize import denormalize


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
