"""An exponential moving average of the network's weights (timm `ModelEmaV3`) as a Lightning callback.

Add it to a config's `trainer.callbacks` (`class_path: hrnet_lit.callbacks.ema.EMA`). Validation then
scores the EMA weights, so the best checkpoint is picked by them, and every checkpoint holds them as
its model weights: `validate`, `test`, `predict`, `export` and `model.pretrained` use the EMA
network with no extra step. The live (trained) weights travel in the callback's state, so a resumed
fit continues from them with its average intact.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from timm.utils import ModelEmaV3
from torch import nn

from hrnet_lit.errors import InputError

_NET = "net."  # the network's prefix in a task's state dict


class EMA(Callback):
    """EMA of `pl_module.net`, updated after every optimizer step.

    Args:
        decay: weight of the average per update (timm's; 0.9998 for ImageNet at 4 x 32 images).
        warmup: ramp the decay up from 0 over the first updates (timm's `use_warmup`), so that the
            average is not dominated by the random initialisation on short runs.
        warmup_power: exponent of that ramp (timm's; 2/3 for long runs, 3/4 for shorter).
    """

    def __init__(self, decay: float = 0.9998, warmup: bool = False, warmup_power: float = 2 / 3) -> None:
        if not 0.0 <= decay < 1.0:
            raise InputError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.warmup_power = warmup_power
        self.ema: ModelEmaV3 | None = None
        self.updates = 0  # optimizer steps averaged so far (a skipped or accumulating batch adds none)
        self._net: nn.Module | None = None
        self._live: dict[str, torch.Tensor] | None = None  # the live weights while the EMA ones are in
        self._resumed: dict[str, torch.Tensor] | None = None  # the live weights of a resumed checkpoint

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        net = getattr(pl_module, "net", None)
        if not isinstance(net, nn.Module):
            raise InputError(f"the EMA callback needs a task with a `net`, not {type(pl_module).__name__}")
        self._net = net

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A resumed checkpoint's model weights are the average: copy them, then put the live ones back."""
        self._net = pl_module.net  # configure_model may have replaced modules (SyncBatchNorm)
        self.ema = ModelEmaV3(
            self._net, decay=self.decay, use_warmup=self.warmup, warmup_power=self.warmup_power
        )
        if self._resumed is not None:
            self._net.load_state_dict(self._resumed)
            self._resumed = None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.ema is not None and trainer.global_step > self.updates:
            self.ema.update(pl_module.net, step=trainer.global_step)
            self.updates = trainer.global_step

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.ema is None:
            return
        self._live = {k: v.detach().clone() for k, v in pl_module.net.state_dict().items()}
        pl_module.net.load_state_dict(self.ema.module.state_dict())

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._live is not None:
            pl_module.net.load_state_dict(self._live)
            self._live = None

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """The checkpoint's model weights become the EMA's; the live ones are in `state_dict`."""
        if self.ema is None:
            return
        state = checkpoint["state_dict"]
        for key, value in self.ema.module.state_dict().items():
            state[_NET + key] = value.detach().clone()

    def state_dict(self) -> dict[str, Any]:
        if self.ema is None or self._net is None:
            return {}
        live = self._live if self._live is not None else self._net.state_dict()
        return {"live": {k: v.detach().clone() for k, v in live.items()}, "updates": self.updates}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """On resume this comes before `on_fit_start`; validate / test / predict ignore it (they score
        the checkpoint's model weights, the EMA's)."""
        if "live" in state_dict:
            self._resumed = state_dict["live"]
            self.updates = int(state_dict["updates"])
