"""What every HRNet task shares: optimizer and LR schedule from timm, set by flat typed knobs."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.scheduler.scheduler import Scheduler


class HRNetTask(pl.LightningModule):
    """Optimizer (timm `create_optimizer_v2`) and per-step LR schedule (timm `create_scheduler_v2`).

    The defaults are the official Cityscapes recipe: SGD, momentum 0.9, weight decay 5e-4 on every
    parameter, lr 0.01 with poly decay (power 0.9) over all training steps.

    Args:
        optimizer: a timm optimizer name (`sgd`, `adamw`, `lamb`, ...).
        lr: peak learning rate.
        momentum: SGD momentum (ignored by optimizers without one).
        weight_decay: applied to every parameter, as the official recipe does.
        scheduler: a timm scheduler name (`poly`, `cosine`, `step`, ...), stepped every update.
        poly_power: exponent of the poly decay (timm's `decay_rate`).
        warmup_epochs: linear warm-up length.
        min_lr: floor of the decayed learning rate.
    """

    def __init__(
        self,
        optimizer: str = "sgd",
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        scheduler: str = "poly",
        poly_power: float = 0.9,
        warmup_epochs: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        self.optim_args = {"opt": optimizer, "lr": lr, "momentum": momentum, "weight_decay": weight_decay}
        self.sched_args = {
            "sched": scheduler,
            "decay_rate": poly_power,
            "warmup_epochs": warmup_epochs,
            "min_lr": min_lr,
        }

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = create_optimizer_v2(self, filter_bias_and_bn=False, **self.optim_args)
        epochs = max(self.trainer.max_epochs or 1, 1)
        steps = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler, _ = create_scheduler_v2(
            optimizer,
            num_epochs=epochs,
            step_on_epochs=False,
            updates_per_epoch=max(steps // epochs, 1),
            **self.sched_args,
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def lr_scheduler_step(self, scheduler: Scheduler, metric: Any) -> None:
        """timm schedulers are stepped by update count, not by `step()` alone."""
        scheduler.step_update(num_updates=self.global_step)
