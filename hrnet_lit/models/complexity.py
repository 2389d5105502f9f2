"""Parameters and multiply-accumulates (convs + linears), as the official repos count "GFLOPs"."""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, input_size: tuple[int, int]) -> int:
    """MACs of every conv and linear for one 3 x H x W image (norms, activations, resizes ignored)."""
    total = 0

    def conv_hook(m: nn.Conv2d, _: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += out[0].numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, _: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel() * m.in_features

    handles = [
        m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        model(torch.zeros(1, 3, *input_size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total


def gmacs(macs: int) -> float:
    """MACs / 2^30: the unit the official HRNet repositories report as GFLOPs."""
    return macs / 2**30
