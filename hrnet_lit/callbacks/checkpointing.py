"""`last.ckpt` that always holds the latest state, and checkpoint files that are never half-written.

Lightning's `ModelCheckpoint(save_last=True)` next to a monitored best checkpoint rewrites
`last.ckpt` only when a new best is saved, so after a dip in the metric it holds an older epoch.
`LastCheckpoint` owns `last.ckpt` instead: after every epoch, every N steps or T minutes where
asked, and on SIGTERM. `AtomicCheckpointIO` writes every checkpoint through a temporary file.
"""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from hrnet_lit import compat
from hrnet_lit.common.atomic import atomic_path
from hrnet_lit.errors import InputError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, flushed and synced to disk, then renamed over it.

    `os.replace` is atomic on a local file system, so a kill (even SIGKILL) or a full disk during a
    save leaves the previous checkpoint whole; at worst a hidden `.<name>.<pid>.tmp` stays behind.
    Remote paths keep Lightning's own write.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if storage_options is not None or not compat.is_local_path(str(path)):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary, temporary.open("wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        if os.name == "posix":  # make the rename itself durable
            folder = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


def rng_states() -> dict[str, Any]:
    """The global RNG states (torch CPU and CUDA, NumPy, Python) as tensors and plain values, which
    a `weights_only` load accepts."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class LastCheckpoint(ModelCheckpoint):
    """Writes `last.ckpt` with the latest state, whatever the metric did.

    Saved at the end of every epoch (after its validation), and on SIGTERM after the running
    training batch; the run then exits with status 143 (128 + SIGTERM), not 0. A SIGTERM during
    validation takes effect when the validation ends, since a checkpoint from its middle would
    resume with metrics over part of the data. When a run resumes from any checkpoint, it puts back
    the train loader's position (see `data/resumable.py`) and the global RNG states (which every
    checkpoint carries, for randomness drawn in the model) before its first step.

    Args:
        dirpath: folder of `last.ckpt` (default: the run's `checkpoints/`, as for the best checkpoint).
        every_n_train_steps: also save after every N optimizer steps (None: at epoch ends only).
        train_time_interval: also save once this much time ("h:m:s") has passed since the last save.
    """

    def __init__(
        self,
        dirpath: str | None = None,
        every_n_train_steps: int | None = None,
        train_time_interval: timedelta | None = None,
    ) -> None:
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise InputError(
                f"last_checkpoint.every_n_train_steps must be >= 1 or null, got {every_n_train_steps}"
            )
        if train_time_interval is not None and train_time_interval.total_seconds() <= 0:
            raise InputError(
                f"last_checkpoint.train_time_interval must be positive, got {train_time_interval}"
            )
        super().__init__(dirpath=dirpath, filename=self.CHECKPOINT_NAME_LAST, save_top_k=0)
        self.step_interval = every_n_train_steps
        self.time_interval = train_time_interval
        self._saved_at = time.monotonic()
        self._held_sigterm = False
        self._rng_to_restore: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "rng": rng_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._rng_to_restore = state_dict.get("rng")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._saved_at = time.monotonic()
        # Lightning hands a stateful train loader its saved state only if it builds the loader after
        # the restore, but `estimated_stepping_batches` (the LR schedule's length) builds it before;
        # hand it over now, before the first batch is drawn (a no-op unless resuming).
        compat.load_train_loader_states(trainer)
        if self._rng_to_restore is not None:
            set_rng_states(self._rng_to_restore)
            self._rng_to_restore = None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self._fitting(trainer) or compat.last_global_step_saved(self) == trainer.global_step:
            return
        due = self.step_interval is not None and trainer.global_step % self.step_interval == 0
        if not due and self.time_interval is not None:
            elapsed = time.monotonic() - self._saved_at
            due = trainer.strategy.broadcast(elapsed >= self.time_interval.total_seconds())  # rank 0's clock
        if due:
            self.save_latest(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._fitting(trainer) and compat.saves_on_train_epoch_end(self, trainer):
            self.save_latest(trainer)

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        # Lightning stops mid-validation on its SIGTERM flag: hold it until validation ends
        if compat.sigterm_received(trainer) and self._fitting(trainer):
            self._held_sigterm = True
            compat.set_sigterm_received(trainer, False)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._held_sigterm:
            self._held_sigterm = False
            compat.set_sigterm_received(trainer, True)
        if self._fitting(trainer) and not compat.saves_on_train_epoch_end(self, trainer):
            self.save_latest(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, SIGTERMException):
            if self._fitting(trainer):
                self.save_latest(trainer)
            exception.code = 128 + signal.SIGTERM

    def save_latest(self, trainer: pl.Trainer) -> None:
        filepath = self.format_checkpoint_name(
            compat.monitor_candidates(self, trainer), self.CHECKPOINT_NAME_LAST
        )
        self.last_model_path = filepath  # before saving: it is part of the saved state
        compat.save_checkpoint(self, trainer, filepath)
        self._saved_at = time.monotonic()

    @staticmethod
    def _fitting(trainer: pl.Trainer) -> bool:
        return (
            trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking and not trainer.fast_dev_run
        )
