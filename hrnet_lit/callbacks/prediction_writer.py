"""The `predict` writer of every task: it picks the folder, the task writes its own kind of result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import BasePredictionWriter

from hrnet_lit.common.task import HRNetTask
from hrnet_lit.errors import InputError


class PredictionWriter(BasePredictionWriter):
    """Hands every predict batch to the task's `write_predictions`, then calls its
    `finish_predictions` once (results files that cover every image, a json or a csv).

    Args:
        output_dir: folder for the results; None writes into the run's log folder under `predictions/`.
        overlay: segmentation: also blend the colour mask over the input image.
        alpha: weight of the mask in the overlay.
    """

    def __init__(self, output_dir: str | None = None, overlay: bool = False, alpha: float = 0.5) -> None:
        super().__init__(write_interval="batch")
        if not 0.0 <= alpha <= 1.0:
            raise InputError(
                f"predict_writer.alpha={alpha} must be in [0, 1] (the mask's share of the overlay)"
            )
        self.output_dir = output_dir
        self.overlay = overlay
        self.alpha = alpha

    def folder(self, trainer: pl.Trainer) -> Path:
        folder = Path(self.output_dir or Path(trainer.log_dir or ".") / "predictions")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        assert isinstance(pl_module, HRNetTask)
        pl_module.write_predictions(prediction, self.folder(trainer), self)

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert isinstance(pl_module, HRNetTask)
        pl_module.finish_predictions(self.folder(trainer))
