"""Load timm / official HRNet checkpoints (same key names) from a local file or a state dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from hrnet_lit.models.hrnet import HRNet

# Task layers of the official repositories and where they live in an `HRNetModel`.
_TASK_LAYER_PREFIXES = ("last_layer.", "final_layer.")
_WRAPPER_PREFIXES = ("module.", "model.", "backbone.")


@dataclass
class LoadReport:
    """What `load_pretrained` did with each key: the backbone is all-or-nothing, heads are best effort."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # model keys left at their initialisation
    skipped: list[str] = field(default_factory=list)  # checkpoint keys whose shape does not fit
    unused: list[str] = field(default_factory=list)  # checkpoint keys with no place in this model

    def __str__(self) -> str:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f" ... (+{len(keys) - 8})" if len(keys) > 8 else "")

        lines = [f"loaded {len(self.loaded)} tensors"]
        for name in ("missing", "skipped", "unused"):
            keys = getattr(self, name)
            if keys:
                lines.append(f"{name} ({len(keys)}): {show(keys)}")
        return "\n".join(lines)


def load_pretrained(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> LoadReport:
    """Copy a timm / official HRNet checkpoint into `model` (an `HRNet` or anything with `.backbone`).

    Every backbone tensor of the official architecture must be present with its shape, or nothing
    is loaded and a KeyError / ValueError names the keys. Parameters that official checkpoints
    cannot have (the alternative fuse methods' merges) and head keys that do not fit are reported.
    """
    state = _read_state_dict(source)
    backbone = model if isinstance(model, HRNet) else model.backbone
    report = LoadReport()

    targets = backbone.state_dict()
    required = [k for k in targets if ".merges." not in k and not k.endswith("num_batches_tracked")]
    absent = [k for k in required if k not in state]
    if absent:
        raise KeyError(f"checkpoint lacks {len(absent)} backbone keys, e.g. {absent[:5]}")
    wrong = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(targets[k].shape)}"
        for k in required
        if state[k].shape != targets[k].shape
    ]
    if wrong:
        raise ValueError(
            f"checkpoint backbone shapes differ from the model (checkpoint vs model): {wrong[:5]}"
        )
    backbone_update = {k: state[k] for k in targets if k in state}
    report.missing += [k for k in targets if k not in state and not k.endswith("num_batches_tracked")]

    head_targets = {} if model is backbone else _head_targets(model)
    head_update: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key in targets:
            continue
        candidates = [k for k in _head_candidates(key) if k in head_targets]
        fits = [k for k in candidates if head_targets[k].shape == tensor.shape]
        if fits:
            head_update[fits[0]] = tensor
        elif candidates:
            report.skipped.append(key)
        else:
            report.unused.append(key)

    backbone.load_state_dict(backbone_update, strict=False)
    if head_update:
        model.load_state_dict(head_update, strict=False)
    report.loaded = list(backbone_update) + list(head_update)
    report.missing += [
        k for k in head_targets if k not in head_update and not k.endswith("num_batches_tracked")
    ]
    return report


def _read_state_dict(source: str | Path | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"pretrained checkpoint {str(path)!r} does not exist (nothing is downloaded)"
            )
        source = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in source and isinstance(source["state_dict"], Mapping):
        source = source["state_dict"]
    state = {}
    for key, tensor in source.items():
        while key.startswith(_WRAPPER_PREFIXES):
            key = key.split(".", 1)[1]
        state[key] = tensor
    return state


def _head_targets(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.startswith("backbone.")}


def _head_candidates(key: str) -> list[str]:
    """Where an official head / task-layer key may live in an `HRNetModel`."""
    names = [f"head.{key}"]
    if key.startswith(_TASK_LAYER_PREFIXES):
        names.append("task_layer." + key.split(".", 1)[1])
    return names
