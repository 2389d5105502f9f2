"""Segmentation `predict` results as colour-coded masks (the dataset's palette) and optional overlays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hrnet_lit.common.atomic import save_atomically


def colour(mask: torch.Tensor, palette: np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) palette colours; ids outside the palette (ignored pixels) are black."""
    ids = mask.cpu().numpy()
    out = np.zeros((*ids.shape, 3), dtype=np.uint8)
    known = ids < len(palette)
    out[known] = palette[ids[known]]
    return out


def write_masks(prediction: dict[str, Any], folder: Path, overlay: bool, alpha: float) -> None:
    """`<folder>/<image stem>.png` in palette colours per image and, with `overlay`, `<stem>_overlay.jpg`
    (the mask blended over the input with weight `alpha`): a predict batch's `SegmentationResult`s."""
    for result, image, path in zip(
        prediction["results"], prediction["images"], prediction["paths"], strict=True
    ):
        stem = Path(path).stem
        save_atomically(Image.fromarray(result.colours()), folder / f"{stem}.png", "PNG")
        if overlay:
            drawn = result.draw(image.permute(1, 2, 0).cpu().numpy(), alpha)
            save_atomically(Image.fromarray(drawn), folder / f"{stem}_overlay.jpg", "JPEG")
