"""Load timm / official / OpenMMLab HRNet checkpoints (the same backbone keys; their task layers
renamed by `layouts`), the network of a `hrnet-lit fit` checkpoint of any task (a classification one
initialises every task's backbone), or a timm model's pretrained weights by name
(`timm:hrnet_w32.ms_in1k`), into a network. See docs/model_zoo.md for the released checkpoints."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.models import layouts
from hrnet_lit.models.hrnet import HRNet

# DataParallel / timm / detector wrappers, and a fit checkpoint's `net.` (the task's HRNetModel).
_WRAPPER_PREFIXES = ("module.", "model.", "backbone.", "net.")
_FIT_PREFIX = "net."
TIMM_PREFIX = "timm:"


@dataclass
class LoadReport:
    """What `load_pretrained` did with each key: the backbone is all-or-nothing, heads are best effort
    (or all-or-nothing too, with `complete`). Every key of the file is in `loaded` (under the model's
    name), `skipped`, `unused` or `ignored`."""

    source: str = "the given state dict"  # what the weights came from, e.g. a fit checkpoint
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # model keys left at their initialisation
    skipped: list[str] = field(default_factory=list)  # checkpoint keys whose shape does not fit
    unused: list[str] = field(default_factory=list)  # checkpoint keys with no place in this model
    ignored: list[str] = field(default_factory=list)  # checkpoint keys that are no weight (a loss's)
    implied: list[str] = field(default_factory=list)  # zero biases of bias-free convs (OpenMMLab's)
    renamed: dict[str, str] = field(default_factory=dict)  # checkpoint key -> model key, where they differ

    def __str__(self) -> str:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f" ... (+{len(keys) - 8})" if len(keys) > 8 else "")

        lines = [f"loaded {len(self.loaded)} tensors from {self.source}"]
        for name in ("missing", "skipped", "unused", "ignored", "implied"):
            keys = getattr(self, name)
            if keys:
                lines.append(f"{name} ({len(keys)}): {show(keys)}")
        if self.renamed:
            lines.append(
                f"renamed ({len(self.renamed)}): {show([f'{a} -> {b}' for a, b in self.renamed.items()])}"
            )
        return "\n".join(lines)


def load_pretrained(
    model: nn.Module, source: str | Path | Mapping[str, torch.Tensor], complete: bool = False
) -> LoadReport:
    """Copy a timm / official HRNet checkpoint, or the network of a `hrnet-lit fit` checkpoint, into
    `model` (an `HRNet` or anything with `.backbone`). `source` is a state dict, a local file, or
    `timm:<model name>` (timm's pretrained weights: fetched from its hub, or `timm:<name>@<file>`
    read from a local `.safetensors` / `.pth` file through timm).

    A fit checkpoint's head goes where the model has the same head (a classification checkpoint's
    `cls` head into a classifier); other tasks take its backbone.

    Every backbone tensor of the official architecture must be present with its shape, or nothing
    is loaded and an `InputError` names the file, what it holds and the keys. Parameters that
    official checkpoints cannot have (the alternative fuse methods' merges) and head keys that do
    not fit are reported. The task layers of the official repositories and OpenMMLab go where
    `layouts.RENAMES` says. With `complete` (evaluating released weights rather than starting a
    fit), every tensor of `model` must come from the file, or nothing is loaded.
    """
    state, origin, named = _read_state_dict(source)
    backbone = model if isinstance(model, HRNet) else model.backbone
    report = LoadReport(source=origin)
    report.implied = layouts.add_implied_biases(state)

    targets = backbone.state_dict()
    required = [k for k in targets if ".merges." not in k and not k.endswith("num_batches_tracked")]
    absent = [k for k in required if k not in state]
    if absent:
        raise InputError(
            f"{origin} lacks {len(absent)} of the {len(required)} backbone tensors of this model, "
            f"e.g. {absent[:5]}; its own keys (wrappers stripped) are e.g. {list(state)[:5]}: "
            "not an HRNet of this size in a known layout (docs/model_zoo.md)"
        )
    wrong = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(targets[k].shape)}"
        for k in required
        if state[k].shape != targets[k].shape
    ]
    if wrong:
        raise InputError(
            f"{origin}: backbone shapes differ from the model (checkpoint vs model): {wrong[:5]}"
        )
    backbone_update = {k: state[k] for k in targets if k in state}
    report.missing += [k for k in targets if k not in state and not k.endswith("num_batches_tracked")]

    head_targets = {} if model is backbone else _head_targets(model)
    head_update: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key in targets:
            continue
        if key.startswith(layouts.IGNORED_PREFIXES):
            report.ignored.append(named.get(key, key))
            continue
        released = not named.get(key, "").startswith(_FIT_PREFIX)  # a fit checkpoint's keys are ours
        places = layouts.candidates(key, renames=released)
        candidates = [k for k in places if k in head_targets and k not in head_update]
        fits = [k for k in candidates if head_targets[k].shape == tensor.shape]
        if fits:
            head_update[fits[0]] = tensor
            if fits[0] != key:
                report.renamed[named.get(key, key)] = fits[0]
        elif candidates:
            report.skipped.append(named.get(key, key))
        else:
            report.unused.append(named.get(key, key))
    report.missing += [
        k for k in head_targets if k not in head_update and not k.endswith("num_batches_tracked")
    ]
    if complete and report.missing:
        raise InputError(
            f"{origin} does not hold the whole network: {len(report.missing)} tensors of the model "
            f"have no weights in it, e.g. {report.missing[:5]}"
            + (
                f"; its keys that did not fit: {(report.skipped + report.unused)[:5]}"
                if report.skipped or report.unused
                else ""
            )
            + ". Check the number of classes / joints and the head against the checkpoint (docs/model_zoo.md)"
        )

    backbone.load_state_dict(backbone_update, strict=False)
    if head_update:
        model.load_state_dict(head_update, strict=False)
    report.loaded = list(backbone_update) + list(head_update)
    return report


def _read_state_dict(
    source: str | Path | Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], str, dict[str, str]]:
    """The tensors of `source` under backbone / head key names, what they came from, and the file's
    own name of each key whose wrapper was stripped (for the report)."""
    origin = "the given state dict"
    if isinstance(source, str) and source.startswith(TIMM_PREFIX):
        source, origin = _read_timm(source[len(TIMM_PREFIX) :])
    elif isinstance(source, str | Path):
        source, origin = _read_file(Path(source))
    if "state_dict" in source and isinstance(source["state_dict"], Mapping):
        source = source["state_dict"]
    state, named = {}, {}
    for original, tensor in source.items():
        if not isinstance(tensor, torch.Tensor):
            continue
        key = original
        while key.startswith(_WRAPPER_PREFIXES):
            key = key.split(".", 1)[1]
        state[key] = tensor
        if key != original:
            named[key] = original
    if not state:
        raise InputError(f"{origin} holds no tensors (keys: {list(source)[:8]})")
    return state, origin, named


def _read_file(path: Path) -> tuple[Mapping[str, Any], str]:
    """The file's contents, loaded as tensors and plain data only (never code), and what it is."""
    where = f"pretrained weights {path}"
    if not path.is_file():
        raise MissingInputError(f"{where} not found (nothing is downloaded: give a local file)")
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load reports a file it cannot read as many error types
        unsafe = re.search(r"GLOBAL (\S+)", str(error))
        if unsafe:
            raise InputError(
                f"{where} holds Python objects ({unsafe[1]}), not only tensors: it is not loaded, since "
                "unpickling them could run code"
            ) from None
        if not zipfile.is_zipfile(path):
            raise InputError(
                f"{where} is not a PyTorch weights file (neither the zip archive that torch.save writes "
                "nor a legacy torch pickle)"
            ) from None
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise InputError(f"{where} cannot be read ({type(error).__name__}: {first_line})") from None
    if not isinstance(contents, Mapping):
        raise InputError(
            f"{where} holds a {type(contents).__name__}, not a state dict (a mapping of names to tensors)"
        )
    return contents, f"{where} ({_describe(contents)})"


def _read_timm(spec: str) -> tuple[Mapping[str, Any], str]:
    """The state dict of timm's pretrained `<name>` (`<name>@<file>`: from that local file), loaded
    by `timm.create_model(name, pretrained=True)` itself, so timm's own key filters apply."""
    import timm

    name, _, file = spec.partition("@")
    where = f"timm model {name!r}"
    if not timm.is_model(name):
        raise InputError(f"{where} is not one of timm's models (e.g. timm:hrnet_w32.ms_in1k)")
    cfg = timm.models.get_pretrained_cfg(name)
    hub = f"https://huggingface.co/{cfg.hf_hub_id}" if cfg is not None and cfg.hf_hub_id else "timm's hub"
    overlay = None
    if file:
        if not Path(file).is_file():
            raise MissingInputError(f"{where}: weights file {file} not found")
        overlay = {"file": file}
        where += f" from {file}"
    try:
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except OSError as error:  # no network, hub unreachable, or not in the local cache
        raise InputError(
            f"{where}: timm could not fetch its pretrained weights (no network? {type(error).__name__}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else error!r}). Without a network, "
            f"download its model.safetensors from {hub} on another machine "
            f"and give --model.pretrained=timm:{name}@/path/to/model.safetensors, or give a local "
            "checkpoint file: --model.pretrained=/path/to/weights.pth"
        ) from None
    except RuntimeError as error:  # timm: no pretrained weights under this tag, or a file that does not fit
        raise InputError(f"{where}: {str(error).strip().splitlines()[0]}") from None
    return model.state_dict(), f"{where} (timm.create_model(pretrained=True))"


def _describe(contents: Mapping[str, Any]) -> str:
    """What a loaded file is: a `hrnet-lit fit` checkpoint (with its epoch, step and backbone), another
    Lightning checkpoint, an OpenMMLab one (`meta` and `state_dict`), or a state dict."""
    if "pytorch-lightning_version" not in contents:
        return "an OpenMMLab checkpoint" if {"meta", "state_dict"} <= set(contents) else "a state dict"
    state = contents.get("state_dict", {})
    if not any(str(key).startswith("net.backbone.") for key in state):
        return "a Lightning checkpoint"
    progress = f"epoch {contents.get('epoch')}, step {contents.get('global_step')}"
    backbone = contents.get("hyper_parameters", {}).get("backbone")
    knobs = getattr(backbone, "__dict__", backbone)
    if isinstance(knobs, Mapping):
        shown = ", ".join(f"{k}={v}" for k, v in knobs.items() if k in ("preset", "width") and v is not None)
        progress += f", backbone {shown}" if shown else ""
    return f"a hrnet-lit fit checkpoint, {progress}"


def _head_targets(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.startswith("backbone.")}
