"""Log the network's parameter count and GMACs with the run, so accuracy can be set against cost."""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from hrnet_lit.common.task import HRNetTask
from hrnet_lit.models import count_macs, count_params, gmacs


def meta_copy(net: nn.Module) -> nn.Module:
    """A copy of `net` on the meta device that copies no weights.

    Every parameter and buffer is pre-seeded in the deepcopy memo with an empty meta twin, so even a
    W48 network is counted at 1024 x 2048 without memory or compute.
    """
    memo: dict[int, object] = {
        id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
        for p in net.parameters()
    }
    memo.update({id(b): torch.empty_like(b, device="meta") for b in net.buffers()})
    return copy.deepcopy(net, memo)


class ModelCost(Callback):
    """At the start of `fit`, logs `cost/params` and `cost/gmacs` (MACs / 2^30 of one image, as the
    official repositories count GFLOPs) as hyperparameters of every logger (W&B: the run config).

    Args:
        input_size: H, W of the image the MACs are counted for; None: the datamodule's training input,
            as `hrnet-lit summary --config` does.
    """

    def __init__(self, input_size: tuple[int, int] | None = None) -> None:
        self.input_size = input_size

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # `setup` runs before `configure_model`, so `net` is not yet compiled or channels_last.
        if stage != "fit" or not trainer.is_global_zero:
            return
        assert isinstance(pl_module, HRNetTask)
        size = tuple(self.input_size or pl_module.data.input_size)
        net = meta_copy(pl_module.net)
        cost = {
            "cost/params": count_params(net),
            "cost/gmacs": gmacs(count_macs(net, size)),
            "cost/input_size": list(size),
        }
        for logger in trainer.loggers:
            logger.log_hyperparams(cost)
