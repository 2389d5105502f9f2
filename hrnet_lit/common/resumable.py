"""A training stream that is a function of (seed, epoch) alone, so a run can resume mid-epoch exactly.

The order of an epoch is a permutation drawn from (seed, epoch); each sample's augmentation draws
from torch's CPU RNG seeded from (seed, epoch, index) while the sample loads. Neither depends on the
number of workers, on the process history or on how often the run was stopped and resumed. The
loader counts the batches it has served in the current epoch and gives that count to Lightning,
which saves the `state_dict` of a stateful train loader in every checkpoint and hands it back on
resume, so a resumed epoch skips exactly the batches the run had already trained on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

SampleKey = tuple[int, int]  # (dataset index, seed of its augmentation)


def stream_seed(*entropy: int) -> int:
    """A well-mixed 63-bit seed from non-negative ints (torch's `initial_seed` may use all 64 bits)."""
    high, low = np.random.SeedSequence([int(e) for e in entropy]).generate_state(2)
    return (int(high) << 31) ^ int(low)


class EpochShuffle(DistributedSampler):
    """Keys of one epoch: a permutation from (seed, epoch), this rank's share, from position `start`.

    A `DistributedSampler`, so Lightning does not put its own sampler in front of it under DDP; it
    calls `set_epoch` at every epoch start. Each key also carries the seed of the sample's augmentation.
    """

    def __init__(self, dataset: Dataset, seed: int, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.start = 0  # samples of this rank's share to skip in the next iteration only

    def __iter__(self) -> Iterator[SampleKey]:
        size = len(self.dataset)
        generator = torch.Generator().manual_seed(stream_seed(self.seed, self.epoch))
        order = torch.randperm(size, generator=generator).tolist()
        order = (order * math.ceil(self.total_size / size))[: self.total_size]  # pad as DistributedSampler
        share = order[self.rank : self.total_size : self.num_replicas][self.start :]
        self.start = 0
        return iter([(index, stream_seed(self.seed, self.epoch, index)) for index in share])


class KeyedSamples(Dataset):
    """`dataset[index]` for a key (index, seed), with torch's CPU RNG seeded by the key while it loads.

    The transforms draw from torch's global RNG; seeding it per sample makes the augmentation of a
    sample independent of which worker loads it and of what was drawn before. The RNG state of the
    loading process is restored afterwards.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: SampleKey) -> Any:
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            return self.dataset[index]


class ResumableLoader(DataLoader):
    """The train loader: `EpochShuffle` order, `KeyedSamples` augmentation, full batches only.

    `state_dict` is the (seed, epoch, batches served); after `load_state_dict` the next iteration
    of that epoch starts after those batches (another epoch starts at its beginning). The seed comes
    back from the checkpoint too, so a resumed run continues the stream it was trained on. Iteration
    is lazy: the sampler runs at the first batch, after Lightning has called `set_epoch`.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        num_replicas: int = 1,
        rank: int = 0,
        **kwargs: Any,
    ) -> None:
        self.shuffle = EpochShuffle(dataset, seed, num_replicas, rank)
        super().__init__(
            KeyedSamples(dataset), batch_size=batch_size, sampler=self.shuffle, drop_last=True, **kwargs
        )
        self._served = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches already served in it)

    def __iter__(self) -> Iterator[Any]:
        resume, self._resume = self._resume, None
        self._served = resume[1] if resume is not None and resume[0] == self.shuffle.epoch else 0
        self.shuffle.start = self._served * self.batch_size
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.shuffle.seed, "epoch": self.shuffle.epoch, "batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.shuffle.seed = state["seed"]
        self.shuffle.set_epoch(state["epoch"])
        self._resume = (state["epoch"], state["batches"])
