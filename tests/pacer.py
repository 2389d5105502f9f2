"""A callback that pauses a training run before each step's checkpoint, so that a test polling the
checkpoint from outside signals the run before it can reach the end of an epoch."""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class Pace(Callback):
    """Sleeps `seconds` after every training batch; the numbers computed are unchanged."""

    def __init__(self, seconds: float = 0.5) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        time.sleep(self.seconds)
