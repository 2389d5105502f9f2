"""Samples per second per core of a data pipeline: what one loader worker delivers.

A worker calls `dataset[key]` for the keys of its batch and collates them; so does this, in the
calling process, on one thread (torch's; decoders that start threads of their own are charged too,
since the clock is this process's CPU time, the core-seconds spent, not the wall time). The train
split is read through `KeyedSamples` with the keys the train loader would draw, so every sample
gets its own augmentation; positions beyond the dataset wrap around, so that a handful of files
can stand for a whole set. Each round times `batches` batches, after one untimed batch (file
cache, lazy set-up); medians over rounds say what a worker sustains.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

from hrnet_lit.common.resumable import KeyedSamples, stream_seed


@dataclass(frozen=True)
class PipelineRate:
    """Samples per core-second of one split's pipeline, per round, and their median and range."""

    split: str
    batch_size: int
    batches: int  # per round
    rounds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    def record(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "samples_per_round": self.batch_size * self.batches,
            "samples_per_s": round(self.median, 2),
            "range": [round(min(self.rounds), 2), round(max(self.rounds), 2)],
            "rounds": [round(r, 2) for r in self.rounds],
        }


def sample_reader(dataset: Dataset, train: bool, seed: int = 0) -> Callable[[int], Any]:
    """Position -> sample: the train split keyed as the train loader keys it (epoch 0 of `seed`), the
    others by index; positions wrap around the dataset."""
    size = len(dataset)
    if not train:
        return lambda position: dataset[position % size]
    keyed = KeyedSamples(dataset)
    return lambda position: keyed[(position % size, stream_seed(seed, 0, position % size, position))]


def pipeline_rate(
    dataset: Dataset,
    collate: Callable[[list[Any]], Any],
    batch_size: int,
    split: str,
    rounds: int = 3,
    batches: int = 2,
    seed: int = 0,
) -> PipelineRate:
    """`rounds` timings of `batches` collated batches of `dataset`, on one torch thread."""
    read = sample_reader(dataset, split == "train", seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        collate([read(k) for k in range(batch_size)])  # untimed: file cache, lazy set-up
        position, rates = batch_size, []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(batches):
                collate([read(position + k) for k in range(batch_size)])
                position += batch_size
            rates.append(batches * batch_size / max(time.process_time() - start, 1e-9))
    finally:
        torch.set_num_threads(threads)
    return PipelineRate(split, batch_size, batches, rates)
