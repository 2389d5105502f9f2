"""The HRNet backbone: parallel streams at 1/4 ... 1/32 with repeated multi-resolution fusion.

Module and key names follow the official code (conv1, layer1, transition1, stage2.0.branches,
stage2.0.fuse_layers, ...) so that timm / official checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from hrnet_lit.compat import BatchNorm
from hrnet_lit.errors import InputError
from hrnet_lit.models import checks
from hrnet_lit.models.blocks import (
    BLOCK_NAMES,
    BLOCKS,
    NORMS,
    BlockName,
    NormName,
    conv_norm,
    make_layer,
    make_norm,
)
from hrnet_lit.models.fusion import (
    FUSE_METHODS,
    UPSAMPLE_MODES,
    FuseMethod,
    UpsampleMode,
    make_align_layers,
    make_merge,
    resize,
)
from hrnet_lit.models.presets import merge_preset


class FeatureInfo(list[dict[str, Any]]):
    """What each output of the backbone is, as timm describes a feature extractor's: per output its
    channels (`num_chs`), stride (`reduction`) and the module that computes it (`module`), so that
    heads and detectors are sized from it rather than from a convention of their own."""

    def channels(self) -> list[int]:
        return [f["num_chs"] for f in self]

    def reduction(self) -> list[int]:
        return [f["reduction"] for f in self]


class HighResolutionModule(nn.Module):
    """One modularized block: residual units per branch, then fusion into `num_outputs` branches."""

    def __init__(
        self,
        channels: list[int],
        num_blocks: int,
        block: BlockName,
        fuse_method: FuseMethod,
        upsample_mode: UpsampleMode,
        align_corners: bool,
        norm: NormName,
        num_outputs: int,
    ) -> None:
        super().__init__()
        expansion = BLOCKS[block].expansion
        self.branches = nn.ModuleList(
            make_layer(block, c, c // expansion, num_blocks, norm) for c in channels
        )
        self.upsample_mode = upsample_mode
        self.align_corners = align_corners
        n = len(channels)
        if n > 1:
            self.fuse_layers = make_align_layers(channels, num_outputs, norm)
            self.merges = nn.ModuleList(
                make_merge(fuse_method, n, channels[i], norm) for i in range(num_outputs)
            )
            self.fuse_act = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """xs[i] at 1/(4*2^i) of the input; returns the fused maps, highest resolution first."""
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if len(xs) == 1:
            return xs
        out = []
        for i, (row, merge) in enumerate(zip(self.fuse_layers, self.merges, strict=True)):
            size = xs[i].shape[-2:]
            aligned = [
                resize(layer(x), size, self.upsample_mode, self.align_corners) if j > i else layer(x)
                for j, (layer, x) in enumerate(zip(row, xs, strict=True))
            ]
            out.append(self.fuse_act(merge(aligned)))
        return out


class HRNet(nn.Module):
    """HRNet backbone; `forward` returns the branch outputs, highest resolution (1/4) first.

    Stage s (1-based, s >= 2) has s branches of widths `width * width_multipliers[:s]`, made of
    `num_modules[s-1]` modules with `num_blocks[s-1]` units of `block[s-1]` per branch. Stage 1 is a
    single layer of `num_blocks[0]` units of width `stage1_width`. `num_outputs` < 4 lets the last
    module fuse only into the highest-resolution branches a head reads (HRNetV1 uses 1).

    `grad_checkpointing` recomputes in backward each stage-1 unit and each module of stages 2 and 3:
    per recomputed FLOP they hold the most activation memory (wide 1/4-resolution maps). Stage 4's
    modules, heavy on low-resolution compute, are kept: recomputing them too cost W32 about 25% more
    time for 22% more memory. HRNetV2-W32 at 512 x 512 trains with 47% less peak memory, 9% to 29%
    slower across our CPU runs (benchmarks/README.md).
    """

    def __init__(
        self,
        width: int = 32,
        stem_width: int = 64,
        stage1_width: int = 64,
        num_modules: tuple[int, int, int, int] = (1, 1, 4, 3),
        num_blocks: tuple[int, int, int, int] = (4, 4, 4, 4),
        block: tuple[BlockName, BlockName, BlockName, BlockName] = ("bottleneck", "basic", "basic", "basic"),
        width_multipliers: tuple[int, int, int, int] = (1, 2, 4, 8),
        fuse_method: FuseMethod = "sum",
        upsample_mode: UpsampleMode = "bilinear",
        align_corners: bool = False,
        norm: NormName = "batch",
        grad_checkpointing: bool = False,
        num_outputs: int = 4,
    ) -> None:
        super().__init__()
        _validate(locals())
        self.grad_checkpointing = grad_checkpointing
        self.norm = norm
        self.upsample_mode = upsample_mode  # heads and tasks upsample as the fusion does
        self.align_corners = align_corners
        self.conv1 = nn.Conv2d(3, stem_width, 3, stride=2, padding=1, bias=False)
        self.bn1 = make_norm(norm, stem_width)
        self.conv2 = nn.Conv2d(stem_width, stem_width, 3, stride=2, padding=1, bias=False)
        self.bn2 = make_norm(norm, stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_layer(block[0], stem_width, stage1_width, num_blocks[0], norm)

        previous = [stage1_width * BLOCKS[block[0]].expansion]
        for s in range(2, 5):
            channels = [width * m * BLOCKS[block[s - 1]].expansion for m in width_multipliers[:s]]
            setattr(self, f"transition{s - 1}", _transition(previous, channels, norm))
            modules = []
            for k in range(num_modules[s - 1]):
                last = s == 4 and k == num_modules[s - 1] - 1
                modules.append(
                    HighResolutionModule(
                        channels,
                        num_blocks[s - 1],
                        block[s - 1],
                        fuse_method,
                        upsample_mode,
                        align_corners,
                        norm,
                        num_outputs if last else s,
                    )
                )
            setattr(self, f"stage{s}", nn.Sequential(*modules))
            previous = channels
        last = f"stage4.{num_modules[3] - 1}"
        self.feature_info = FeatureInfo(
            {"num_chs": c, "reduction": 4 * 2**i, "module": last}
            for i, c in enumerate(previous[:num_outputs])
        )

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> HRNet:
        """A paper variant (`w18_small_v1`, ..., `w64`) with any knob overridden."""
        return cls(**merge_preset(name, overrides))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: N x 3 x H x W (any H, W) -> maps at 1/4, 1/8, 1/16, 1/32 (ceil-rounded)."""
        x = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        for unit in self.layer1:
            x = self._run(unit, x, recompute=True)
        xs = [x]
        for s in range(2, 5):
            transition = getattr(self, f"transition{s - 1}")
            xs = [t(xs[min(i, len(xs) - 1)]) for i, t in enumerate(transition)]
            for module in getattr(self, f"stage{s}"):
                xs = self._run(module, xs, recompute=s < 4)
        return xs

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def _run(self, module: nn.Module, inputs: Any, recompute: bool) -> Any:
        """`module(inputs)`, recomputed in backward when checkpointing applies to it."""
        if not (recompute and self.grad_checkpointing and self.training and torch.is_grad_enabled()):
            return module(inputs)
        return checkpoint(
            module,
            inputs,
            use_reentrant=False,
            context_fn=lambda: (nullcontext(), _frozen_norm_stats(module)),
        )


def _transition(previous: list[int], channels: list[int], norm: NormName) -> nn.ModuleList:
    """Adapt existing branches whose width changes (3x3 conv) and open a new, half-resolution one."""
    layers = nn.ModuleList()
    for i, c in enumerate(channels):
        if i < len(previous):
            layers.append(
                nn.Identity() if previous[i] == c else conv_norm(previous[i], c, 3, norm, relu=True)
            )
        else:
            layers.append(nn.Sequential(conv_norm(previous[-1], c, 3, norm, stride=2, relu=True)))
    return layers


@contextmanager
def _frozen_norm_stats(module: nn.Module) -> Iterator[None]:
    """During checkpoint recomputation, keep BatchNorm running stats from being updated twice."""
    norms = [m for m in module.modules() if isinstance(m, BatchNorm) and m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved, strict=True):
            m.momentum = momentum
            m.num_batches_tracked.copy_(count)


def _validate(args: dict[str, Any]) -> None:
    """Check every knob up front, naming the knob and what it accepts."""
    for name in ("width", "stem_width", "stage1_width"):
        checks.positive_int(name, args[name])
    for name in ("num_modules", "num_blocks", "width_multipliers"):
        checks.positive_ints(name, args[name], 4)
    if args["num_modules"][0] != 1:
        raise InputError(f"num_modules={args['num_modules']!r}: stage 1 is one layer, so its entry must be 1")
    checks.choices("block", args["block"], 4, BLOCK_NAMES)
    checks.one_of("fuse_method", args["fuse_method"], FUSE_METHODS)
    checks.one_of("upsample_mode", args["upsample_mode"], UPSAMPLE_MODES)
    checks.one_of("norm", args["norm"], NORMS)
    checks.flag("align_corners", args["align_corners"])
    checks.flag("grad_checkpointing", args["grad_checkpointing"])
    if args["num_outputs"] not in (1, 2, 3, 4):
        raise InputError(f"num_outputs={args['num_outputs']!r} must be 1, 2, 3 or 4")
