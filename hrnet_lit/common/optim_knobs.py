"""The optimizer and LR schedule knobs every task takes, checked when the task is built: timm and torch
refuse a bad one only at the first step (after the data is set up, the run folder made), with a
traceback, and some (a negative warm-up, a floor above the peak) they never refuse at all."""

from __future__ import annotations

import math
from collections.abc import Sequence

from timm.optim import get_optimizer_info, list_optimizers

from hrnet_lit.errors import InputError

# The names timm's `create_scheduler_v2` accepts (it has no list of them).
SCHEDULERS = ("cosine", "tanh", "step", "constant", "multistep", "plateau", "poly", "wsd", "rsqrt", "none")


def check_optimizer_knobs(
    optimizer: str,
    scheduler: str,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    poly_power: float = 0.9,
    warmup_epochs: int = 0,
    min_lr: float = 0.0,
    decay_milestones: Sequence[int] | None = None,
    decay_rate: float = 0.1,
) -> None:
    """An `InputError` naming the first knob (`model.<knob>`) whose value no run can train with."""
    _check_optimizer_name(optimizer)
    if scheduler not in SCHEDULERS:
        raise InputError(f"model.scheduler={scheduler!r} is not a timm scheduler; choose one of {SCHEDULERS}")
    ranges = (
        ("lr", lr, lr > 0, "> 0"),
        ("momentum", momentum, 0 <= momentum <= 1, "in [0, 1]"),
        ("weight_decay", weight_decay, weight_decay >= 0, ">= 0"),
        ("poly_power", poly_power, poly_power >= 0, ">= 0"),
        ("warmup_epochs", warmup_epochs, warmup_epochs >= 0, ">= 0"),
        ("min_lr", min_lr, min_lr >= 0, ">= 0"),
        ("decay_rate", decay_rate, decay_rate > 0, "> 0"),
    )
    for key, value, ok, expected in ranges:
        if not (math.isfinite(value) and ok):
            raise InputError(f"model.{key}={value} must be a finite number {expected}")
    if min_lr > lr:
        raise InputError(f"model.min_lr={min_lr} is above model.lr={lr}: the schedule would raise the lr")
    milestones = list(decay_milestones or [])
    if any(m < 0 for m in milestones) or milestones != sorted(set(milestones)):
        raise InputError(
            f"model.decay_milestones={milestones} must be distinct epochs >= 0 in increasing order"
        )


def _check_optimizer_name(optimizer: str) -> None:
    """timm's rule: the last `_` part names the optimizer, and a first part can only be `lookahead`."""
    parts = optimizer.lower().split("_")
    try:
        if len(parts) > 1 and parts[0] != "lookahead":
            raise ValueError(optimizer)
        get_optimizer_info(parts[-1])
    except ValueError:
        raise InputError(
            f"model.optimizer={optimizer!r} is not a timm optimizer (`timm.optim.list_optimizers()`: "
            f"{', '.join(list_optimizers()[:12])}, ...; `lookahead_<name>` adds Lookahead)"
        ) from None
