"""The paper's HRNet variants as constructor arguments (official configs, not only C differs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from hrnet_lit.errors import InputError

PresetName = Literal["w18_small_v1", "w18_small_v2", "w18", "w30", "w32", "w40", "w44", "w48", "w64"]
PRESET_NAMES: tuple[str, ...] = get_args(PresetName)


def _standard(width: int) -> dict[str, Any]:
    """W18 ... W64: stage 1 of 4 Bottlenecks, then 1, 4, 3 modules of 4 BasicBlocks per branch."""
    return {"width": width, "stage1_width": 64, "num_modules": (1, 1, 4, 3), "num_blocks": (4, 4, 4, 4)}


PRESETS: dict[str, dict[str, Any]] = {
    # HRNet-W18-small-v1 uses C = 16 and a thin stage 1 (one Bottleneck of width 32).
    "w18_small_v1": {
        "width": 16,
        "stage1_width": 32,
        "num_modules": (1, 1, 1, 1),
        "num_blocks": (1, 2, 2, 2),
    },
    "w18_small_v2": {
        "width": 18,
        "stage1_width": 64,
        "num_modules": (1, 1, 3, 2),
        "num_blocks": (2, 2, 2, 2),
    },
    **{f"w{c}": _standard(c) for c in (18, 30, 32, 40, 44, 48, 64)},
}


def preset_kwargs(name: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in PRESETS:
        raise InputError(f"preset={name!r} is not a known HRNet variant; choose one of {PRESET_NAMES}")
    return dict(PRESETS[name])


def merge_preset(preset: str | None, knobs: Mapping[str, Any]) -> dict[str, Any]:
    """HRNet constructor arguments: the preset's (none without one), each knob that is not None
    overriding them. The one merge that building, configs and checkpoint comparisons share, so that
    they cannot disagree on which network a preset and knobs name."""
    given = {k: v for k, v in knobs.items() if v is not None}
    return {**(preset_kwargs(preset) if preset is not None else {}), **given}
