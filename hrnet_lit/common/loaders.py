"""The loaders every task's data module serves: a resumable train stream, and evaluation that scores
each sample exactly once, also under DDP."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset

from hrnet_lit.common.resumable import ResumableLoader
from hrnet_lit.errors import InputError


def loader_options(num_workers: int, **extra: Any) -> dict[str, Any]:
    """Worker settings, and a loader-own generator: iterating a loader never draws from the global
    RNG, so a resumed run's global RNG (restored from the checkpoint) continues exactly."""
    return {
        "num_workers": num_workers,
        "persistent_workers": num_workers > 0,
        "pin_memory": torch.cuda.is_available(),
        "generator": torch.Generator().manual_seed(0),
        **extra,
    }


def train_loader(
    trainer: pl.Trainer | None,
    dataset: Dataset,
    batch_size: int,
    options: dict[str, Any],
    samples: str = "samples",
) -> DataLoader:
    """Full batches of `dataset` in an order and with augmentation keyed by (the run's seed, epoch,
    index), each DDP rank taking its share of one permutation (`ResumableLoader`)."""
    if len(dataset) < batch_size:
        raise InputError(
            f"the train split has {len(dataset)} {samples}, fewer than data.batch_size={batch_size}; "
            "incomplete batches are dropped, so training would see no data"
        )
    if trainer is not None and trainer.overfit_batches > 0:
        # Lightning puts a sequential sampler of its own into an overfit run's loader.
        return DataLoader(dataset, batch_size=batch_size, drop_last=True, **options)
    world = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
    seed = torch.initial_seed()  # the run's (`seed_everything`, set before the data module is built)
    return ResumableLoader(dataset, batch_size, seed, *world, **options)


def eval_loader(
    trainer: pl.Trainer | None, dataset: Dataset, batch_size: int, options: dict[str, Any]
) -> DataLoader:
    """Every sample exactly once, also under DDP: Lightning's own DistributedSampler pads the split with
    repeats to equal shares, and the metrics would count those twice. The ranks' shares may then
    differ by one batch, which evaluation allows (no per-step collective)."""
    sampler = None
    if trainer is not None and trainer.world_size > 1:
        sampler = UnrepeatedDistributedSampler(
            dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
        )
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **options)
