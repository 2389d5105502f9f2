"""A checkpoint next to a config: which of its saved init arguments a run keeps, and which contradictions
are an error.

Over `--ckpt_path` the checkpoint's hyperparameters are the defaults that the config files and
flags override (later ones win). The task's `architecture` arguments (`HRNetTask.architecture`:
backbone, head, num_classes) must agree with the checkpoint, since its weights were trained for that
network; of the backbone, `grad_checkpointing` (recomputation, the same function) and the choice
between `batch` and `sync_batch` norm (the same parameters and buffers) may change.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, is_dataclass
from typing import Any

from hrnet_lit.models.hrnet import HRNet
from hrnet_lit.models.presets import merge_preset

# Backbone knobs that leave the parameters and the function they compute unchanged.
RUNTIME_BACKBONE_KNOBS = ("grad_checkpointing",)
_SAME_WEIGHTS_NORMS = {"batch", "sync_batch"}


def model_hparams(checkpoint: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The task class path saved in `checkpoint` (None when the CLI did not record one) and its init
    arguments as plain data (a task built in Python saves its `BackboneConfig` as an object)."""
    hparams = {
        k: asdict(v) if is_dataclass(v) and not isinstance(v, type) else v
        for k, v in dict(checkpoint["hyper_parameters"]).items()
    }
    hparams.pop("_instantiator", None)
    return hparams.pop("_class_path", None), hparams


def contradictions(architecture: tuple[str, ...], saved: Any, given: Any) -> list[tuple[str, Any, Any]]:
    """(key, checkpoint value, config value) for each architecture argument where the config or
    flags (`given`, a parsed model namespace) build another network than the checkpoint (`saved`)."""
    found = []
    for key in architecture:
        if key not in saved or key not in given:
            continue  # a link target (num_classes) is checked once the data module gives it
        if key == "backbone":
            found += [
                (f"backbone.{k}", a, b)
                for k, a, b in _backbone_contradictions(_plain(saved[key]), _plain(given[key]))
            ]
        elif _plain(saved[key]) != _plain(given[key]):
            found.append((key, saved[key], given[key]))
    return found


def _backbone_contradictions(saved: dict[str, Any], given: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Knobs that differ, when the networks they resolve to (preset, then every set knob) differ."""
    if _resolved(saved) == _resolved(given):
        return []
    keys = [k for k in saved if k not in RUNTIME_BACKBONE_KNOBS and saved[k] != given.get(k)]
    return [(k, saved[k], given.get(k)) for k in keys if not _same_norm(k, saved[k], given.get(k))]


def _resolved(backbone: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        name: p.default
        for name, p in inspect.signature(HRNet).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    knobs = {k: v for k, v in backbone.items() if k not in RUNTIME_BACKBONE_KNOBS and k != "preset"}
    resolved = {**defaults, **merge_preset(backbone.get("preset") or None, knobs)}
    if resolved.get("norm") in _SAME_WEIGHTS_NORMS:
        resolved["norm"] = "batch"
    return _plain(resolved)


def _same_norm(key: str, saved: Any, given: Any) -> bool:
    return key == "norm" and {saved, given} <= _SAME_WEIGHTS_NORMS


def _plain(value: Any) -> Any:
    """Lists for tuples and dicts for namespaces, so that saved YAML and parsed values compare."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def show(value: Any) -> str:
    """A value as it is written in a config or flag."""
    plain = _plain(value)
    if isinstance(plain, list):
        return "[" + ",".join(show(v) for v in plain) + "]"
    if plain is None:
        return "null"
    if isinstance(plain, bool):
        return str(plain).lower()
    return str(plain)
