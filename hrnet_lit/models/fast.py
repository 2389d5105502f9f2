"""Inference-time BatchNorm folding: every conv + BN pair becomes one conv with a bias.

In eval mode a BatchNorm is a fixed per-channel affine map, so it can be folded into the conv that
feeds it, which saves one pass over every activation. Pairs are found by the layout shared by our
modules, timm's and the official code: a conv directly followed by a BN in an `nn.Sequential`,
and `convN` / `bnN` attribute pairs (stem and residual units).
"""

from __future__ import annotations

import copy
import itertools
import re

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from hrnet_lit.compat import BatchNorm


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` with each BatchNorm folded into the conv before it.

    BatchNorms that normalise with batch statistics even in eval mode (no running stats), GroupNorm
    and anything not directly after a conv are left as they are. Fold before `torch.compile`.
    """
    fused = copy.deepcopy(model).eval()
    for parent in list(fused.modules()):
        for conv_name, bn_name in _conv_bn_pairs(parent):
            conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
            if _foldable(conv, bn):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
    return fused


def _conv_bn_pairs(parent: nn.Module) -> list[tuple[str, str]]:
    """(conv, norm) child names whose outputs feed each other directly, by layout convention."""
    names = [name for name, _ in parent.named_children()]
    if isinstance(parent, nn.Sequential):
        return list(itertools.pairwise(names))
    convs = {m.group(1): name for name in names if (m := re.fullmatch(r"conv(\d*)", name))}
    return [
        (convs[m.group(1)], name)
        for name in names
        if (m := re.fullmatch(r"bn(\d*)", name)) and m.group(1) in convs
    ]


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (
        type(conv) is nn.Conv2d
        and isinstance(bn, BatchNorm)
        and bn.running_mean is not None
        and bn.num_features == conv.out_channels
    )
