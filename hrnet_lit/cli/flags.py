"""What the command line itself says, apart from the config files: which keys a flag sets, and the
`null` of a nested knob spelt so that jsonargparse takes it.

A config file supplies defaults; a flag is the user's explicit word. Over `--ckpt_path` only a flag
can contradict the checkpoint's architecture, a flag decides where a run writes
(`--trainer.default_root_dir`), and a flag or a config value that sets what the data decides (the
number of classes or joints) must agree with the data.
"""

from __future__ import annotations

import json
import os
from typing import Any

import yaml

_NULL = ("null", "None", "none", "~")


def _pairs(args: list[str]) -> list[tuple[str, str | None]]:
    """(`--key`, its value or None) for each flag of `args`, in `--key=value` or `--key value` form."""
    pairs: list[tuple[str, str | None]] = []
    for k, arg in enumerate(args):
        if not arg.startswith("--"):
            continue
        key, eq, value = arg.partition("=")
        if not eq:
            following = args[k + 1] if k + 1 < len(args) else None
            value = following if following is not None and not following.startswith("--") else None
        pairs.append((key, value if eq or value is not None else None))
    return pairs


def plain_key(key: str) -> str:
    """`--model.init_args.backbone.width` -> `model.backbone.width`: one spelling per key."""
    return ".".join(part for part in key.lstrip("-").split(".") if part != "init_args")


def flag_values(args: list[str]) -> dict[str, Any]:
    """Every key the flags of `args` set (later flags win), spelt plainly, with its value as YAML reads
    it; a mapping value (`--model.backbone={"width": 8}`) sets each of its keys. `--config` files and
    the task's class path, which the CLI puts first, are not flags of the user's."""
    found: dict[str, Any] = {}
    for key, value in _pairs(args):
        name = plain_key(key)
        if name in ("config", "print_config") or value is None:
            continue
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        if name in ("model", "data", "model.class_path", "data.class_path") and isinstance(parsed, str):
            continue  # a class path: which task or data, not a value of one of its arguments
        found.update(_flatten(name, parsed))
    return found


def _flatten(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and name not in ("model", "data"):
        return {f"{name}.{k}": v for key, v in value.items() for k, v in _flatten(str(key), v).items()}
    return {name: value}


def config_values(args: list[str], group: str) -> dict[str, Any]:
    """The `group` (`model`, `data`) init arguments that the `--config` files of `args` set."""
    found: dict[str, Any] = {}
    for key, value in _pairs(args):
        if key not in ("--config", "-c") or value is None or not os.path.isfile(value):
            continue
        with open(value) as file:
            config = yaml.safe_load(file) or {}
        section = config.get(group) if isinstance(config, dict) else None
        if isinstance(section, dict):
            found.update(section.get("init_args", section) if "class_path" in section else section)
    return found


def nested_nulls(args: list[str]) -> list[str]:
    """`--model.backbone.width=null` as `--model.backbone={"width": null}`: jsonargparse refuses `null`
    for a knob inside a group of knobs on the command line ("Given value type: str"), and takes it in
    this form, which keeps the group's other values."""
    rewritten = []
    for arg in args:
        key, eq, value = arg.partition("=")
        parts = plain_key(key).split(".")
        if eq and value in _NULL and parts[0] in ("model", "data") and len(parts) >= 3:
            group, knobs = ".".join(parts[:2]), parts[2:]
            nested: Any = None
            for knob in reversed(knobs):
                nested = {knob: nested}
            arg = f"--{group}={json.dumps(nested)}"
        rewritten.append(arg)
    return rewritten
