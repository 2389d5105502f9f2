"""Backbone knobs as one typed, flat record: what configs, CLI flags and sweeps set."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hrnet_lit.models.blocks import BlockName, NormName
from hrnet_lit.models.fusion import FuseMethod, UpsampleMode
from hrnet_lit.models.heads import HeadName, head_class
from hrnet_lit.models.hrnet import HRNet
from hrnet_lit.models.presets import PresetName, merge_preset


@dataclass(frozen=True)
class BackboneConfig:
    """An HRNet variant: a `preset`, then every knob that is not None overrides it.

    Args:
        preset: paper variant whose width, stage-1 width, modules and blocks are the starting point.
        width: C, the width of the 1/4 branch (branches are C * width_multipliers).
        stem_width: channels of the two stride-2 stem convs.
        stage1_width: Bottleneck width of stage 1 (its output has 4x as many channels).
        num_modules: modules per stage (stage 1 is one layer: its entry is 1).
        num_blocks: residual units per branch, per stage.
        block: residual unit type per stage.
        width_multipliers: branch widths relative to C.
        fuse_method: how a fusion merges its aligned inputs (`sum` is the paper).
        upsample_mode: interpolation towards higher resolutions in fusion.
        align_corners: for bilinear upsampling.
        norm: normalisation layer (`sync_batch` syncs statistics across processes, CPU too).
        grad_checkpointing: recompute modules in backward to save activation memory.
    """

    preset: PresetName | None = "w32"
    width: int | None = None
    stem_width: int | None = None
    stage1_width: int | None = None
    num_modules: tuple[int, int, int, int] | None = None
    num_blocks: tuple[int, int, int, int] | None = None
    block: tuple[BlockName, BlockName, BlockName, BlockName] | None = None
    width_multipliers: tuple[int, int, int, int] | None = None
    fuse_method: FuseMethod = "sum"
    upsample_mode: UpsampleMode = "bilinear"
    align_corners: bool = False
    norm: NormName = "batch"
    grad_checkpointing: bool = False

    def knobs(self) -> dict[str, Any]:
        """The overrides passed to the constructor (everything set, preset excluded)."""
        return {k: v for k, v in asdict(self).items() if k != "preset" and v is not None}

    def build(self, head: HeadName) -> HRNet:
        """The HRNet whose last module fuses into exactly the branches that `head` reads."""
        return HRNet(**merge_preset(self.preset, self.knobs()), num_outputs=head_class(head).num_inputs)
