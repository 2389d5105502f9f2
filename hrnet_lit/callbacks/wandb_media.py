"""Validation predictions as W&B images, to compare runs by eye next to their metrics."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import numpy as np
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import WandbLogger

from hrnet_lit.common.task import HRNetTask


class ValidationImages(Callback):
    """Every `every_n_epochs` validation epochs, logs the first `num_images` validation images to each
    W&B logger as panels `input | ground truth | prediction`, drawn by the task
    (`HRNetTask.validation_panels`: masks in the dataset's palette, skeletons, boxes). Does nothing
    without a W&B logger.

    Args:
        every_n_epochs: log at epochs 0, n, 2n, ...
        num_images: panels per logged epoch.
        key: W&B key of the panels.
    """

    def __init__(self, every_n_epochs: int = 1, num_images: int = 4, key: str = "val/predictions") -> None:
        if every_n_epochs < 1 or num_images < 1:
            raise ValueError(
                f"every_n_epochs and num_images must be >= 1, got {every_n_epochs}, {num_images}"
            )
        self.every_n_epochs = every_n_epochs
        self.num_images = num_images
        self.key = key
        self._panels: list[np.ndarray] = []

    def _wanted(self, trainer: pl.Trainer) -> bool:
        return (
            trainer.is_global_zero
            and not trainer.sanity_checking
            and trainer.current_epoch % self.every_n_epochs == 0
            and len(self._panels) < self.num_images
            and any(isinstance(logger, WandbLogger) for logger in trainer.loggers)
        )

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: HRNetTask,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not self._wanted(trainer):
            return
        self._panels += pl_module.validation_panels(batch, self.num_images - len(self._panels))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._panels:
            return
        captions = [f"{k}: input | ground truth | prediction" for k in range(len(self._panels))]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(self.key, list(self._panels), step=trainer.global_step, caption=captions)
        self._panels.clear()
