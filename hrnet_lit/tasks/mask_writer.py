"""Write `predict` results as colour-coded masks (the dataset's palette) and optional overlays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
from lightning.pytorch.callbacks import BasePredictionWriter
from PIL import Image

from hrnet_lit.data import denormalize


class MaskWriter(BasePredictionWriter):
    """Saves `<output_dir>/<image stem>.png` (palette colours) and, with `overlay`, `<stem>_overlay.jpg`.

    Args:
        output_dir: folder for the masks; None writes into the run's log folder under `predictions/`.
        overlay: also blend the colour mask over the input image.
        alpha: weight of the mask in the overlay.
    """

    def __init__(self, output_dir: str | None = None, overlay: bool = False, alpha: float = 0.5) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = output_dir
        self.overlay = overlay
        self.alpha = alpha

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: dict[str, Any],
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        folder = Path(self.output_dir or Path(trainer.log_dir or ".") / "predictions")
        folder.mkdir(parents=True, exist_ok=True)
        palette = np.asarray(trainer.datamodule.palette, dtype=np.uint8)
        for mask, image, path in zip(
            prediction["mask"], prediction["image"], prediction["paths"], strict=True
        ):
            colours = palette[mask.cpu().numpy()]
            stem = Path(path).stem
            save_atomically(Image.fromarray(colours), folder / f"{stem}.png", "PNG")
            if self.overlay:
                blend = (1 - self.alpha) * denormalize(image.cpu()) + self.alpha * colours
                save_atomically(
                    Image.fromarray(blend.astype(np.uint8)), folder / f"{stem}_overlay.jpg", "JPEG"
                )


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
