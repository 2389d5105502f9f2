"""Flags that Lightning accepts and a run cannot use, refused by name before anything is built, and
Lightning's own refusals of a Trainer flag told as one message instead of a traceback."""

from __future__ import annotations

import inspect
import re
import sys
from fnmatch import fnmatchcase
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from hrnet_lit.cli.checkpoint import show
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.errors import InputError

_TRAINER_ARGS = frozenset(inspect.signature(Trainer.__init__).parameters) - {"self"}
_CHECKPOINT_ARGS = frozenset(inspect.signature(ModelCheckpoint.__init__).parameters) - {"self"}
# What Lightning offers every checkpoint callback to monitor, whatever the task logs.
_COUNTERS = ("epoch", "step")
# Lightning's ValueError when an int `val_check_interval` exceeds the epoch, raised once fit starts.
_LIGHTNING_VALUE_ERRORS = ("`val_check_interval` (",)


def logs_metric(task: type[HRNetTask], name: str) -> bool:
    """Whether a fit of `task` logs `name` (its `metrics`, patterns for per-class names; a task that
    does not list them logs whatever it may), or Lightning's `epoch` / `step`."""
    if task.metrics is None or name in _COUNTERS:
        return True
    return any(fnmatchcase(name, pattern) for pattern in task.metrics)


def unlogged_metric(task: type[HRNetTask], name: str, key: str) -> InputError:
    return InputError(
        f"{key}={name!r}: {task.__qualname__} never logs it, so no run could report it; it logs "
        f"{', '.join(task.metrics or ())}"
    )


def check_run_flags(config: Namespace, subcommand: str, task: type[HRNetTask]) -> None:
    """The Trainer's counts that Lightning takes without a word (a `max_steps` below -1) or refuses
    with a traceback (`check_val_every_n_epoch=0`), and the best checkpoint's flags, which Lightning
    checks only after the first epoch's validation."""
    trainer = config.trainer
    for key in ("max_epochs", "max_steps", "min_epochs", "min_steps"):
        value = trainer.get(key)
        if value is not None and value < -1:
            raise InputError(f"trainer.{key}={value} must be >= 0, or -1 for no limit")
    at_least = {"accumulate_grad_batches": 1, "check_val_every_n_epoch": 1, "log_every_n_steps": 0}
    for key, least in at_least.items():
        value = trainer.get(key)
        if value is not None and value < least:
            raise InputError(f"trainer.{key}={value} must be >= {least}")
    clip = trainer.get("gradient_clip_val")
    if clip is not None and not clip >= 0:
        raise InputError(f"trainer.gradient_clip_val={clip} must be >= 0 (0 or null: no clipping)")
    if subcommand != "fit":
        return
    checkpoint = config.checkpoint
    if checkpoint.mode not in ("min", "max"):
        raise InputError(f"checkpoint.mode={checkpoint.mode!r}: choose min or max")
    if checkpoint.save_top_k < -1:
        raise InputError(f"checkpoint.save_top_k={checkpoint.save_top_k} must be >= -1 (-1 keeps every one)")
    if checkpoint.monitor is not None and not logs_metric(task, checkpoint.monitor):
        raise unlogged_metric(task, checkpoint.monitor, "checkpoint.monitor")
    name = checkpoint.get("filename")
    if name is not None and ("/" in name or "\\" in name or name.startswith(".")):
        raise InputError(
            f"checkpoint.filename={name!r} would write outside the checkpoint folder: a file name, not a "
            "path (--checkpoint.dirpath chooses the folder)"
        )


def lightning_refusal(error: BaseException, trainer: dict[str, Any] | None = None) -> InputError | None:
    """Lightning's refusal of a flag, as an `InputError` whose key is spelt as a flag
    (`trainer.max_epochs`, `checkpoint.every_n_epochs`): a `MisconfigurationException`, a `ValueError`
    raised while the Trainer is built from the `trainer` flags (which name the key when the message
    shows only their value), or the few `ValueError`s Lightning raises for one once fit starts."""
    if isinstance(error, InputError) or not isinstance(error, MisconfigurationException | ValueError):
        return None
    message = str(error).strip()
    words = re.findall(r"\w+", message)
    named = [f"trainer.{n}" for n in words if n in _TRAINER_ARGS]
    named += [f"checkpoint.{n}" for n in words if n in _CHECKPOINT_ARGS and n not in _TRAINER_ARGS]
    if trainer is not None and not named:
        shown = {
            k: str(v) for k, v in trainer.items() if isinstance(v, str | int | float) and len(str(v)) > 1
        }
        named = [f"trainer.{k}" for k, v in shown.items() if f"'{v}'" in message or f"={v}" in message]
    if not isinstance(error, MisconfigurationException) and not (
        (trainer is not None and named) or message.startswith(_LIGHTNING_VALUE_ERRORS)
    ):
        return None
    spelt = re.sub(r"`(\w+)`", lambda m: f"`trainer.{m[1]}`" if m[1] in _TRAINER_ARGS else m[0], message)
    if named and named[0] not in spelt:
        spelt = f"{named[0]}: {spelt}"
    return InputError(spelt)


def check_data_args(given: dict[str, Any], model: LightningModule, data: LightningDataModule) -> None:
    """What the data decides (classes, joints, their names), when a flag or the config sets it too,
    must agree with the data: the data's value is used, so a different one would be ignored silently."""
    for key, value in given.items():
        used = model.hparams.get(key)
        if _plain(value) != _plain(used):
            raise InputError(
                f"model.{key}={show(value)} contradicts the data: {type(data).__qualname__} gives "
                f"{show(used)}; drop model.{key} (the data sets it) or choose other data"
            )


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def warn_untrained(subcommand: str, config: Namespace) -> None:
    """One line when validate / test / predict would run a network that no checkpoint or pretrained
    weights filled: its scores and drawings are those of random weights (a user may mean it: a smoke
    test of the data)."""
    if subcommand == "fit" or config.get("ckpt_path") is not None:
        return
    if config.model.init_args.get("pretrained"):
        return  # the task loads the whole network from them at setup, or stops
    what = "randomly initialised weights"
    sys.stderr.write(
        f"hrnet-lit {subcommand}: warning: no --ckpt_path, so this {subcommand} uses {what}; "
        "pass --ckpt_path=<run>/checkpoints/last.ckpt for a trained model\n"
    )
