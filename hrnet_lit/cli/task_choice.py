"""Which task, and which data module, a command line is about, known before the parser is built.

The task is the config's (or a flag's) `model.class_path`, or segmentation when none names one. It and
its default data module are put first on the command line, so the config files and flags that follow
set their arguments (`--model.backbone.width=48`, no `init_args` needed) and no other class's defaults
are carried over.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import yaml
from lightning.pytorch import LightningDataModule

from hrnet_lit.cli.flags import nested_nulls
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.errors import InputError
from hrnet_lit.registry import DEFAULT_TASK, TASKS


def import_class(class_path: str) -> type:
    """The class a config's `class_path` names; a bad one is an `InputError` naming it."""
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise InputError(f"class_path {class_path!r} cannot be imported") from None


def names_class(class_path: str, cls: type) -> bool:
    """Whether `class_path` (`hrnet_lit.pose.PoseTask` or `hrnet_lit.pose.PoseTask`) is `cls`."""
    try:
        return import_class(class_path) is cls
    except InputError:
        return False


def task_arg(key: str, data: LightningDataModule) -> Any:
    """`key` of the data module's `task_args`: what the data knows, filled into the task's arguments."""
    given = getattr(data, "task_args", {})
    if key not in given:
        raise InputError(
            f"data: {type(data).__qualname__} gives no {key!r} to the task (its task_args: "
            f"{sorted(given)}); choose a data module of this task"
        )
    return given[key]


def chosen_classes(args: list[str]) -> dict[str, str]:
    """The class paths that the `--config` files and the flags of `args` give `model` and `data`
    (later ones win), read before parsing so that the parser can be built for that task. A task may
    be named by its class alone (`--model=PoseTask`)."""
    found: dict[str, str] = {}
    for k, arg in enumerate(args):
        key, _, value = arg.partition("=")
        if not value and k + 1 < len(args):
            value = args[k + 1]
        if key in ("--config", "-c") and os.path.isfile(value):
            with open(value) as file:
                config = yaml.safe_load(file) or {}
            for group in ("model", "data"):
                section = config.get(group) if isinstance(config, dict) else None
                path = section.get("class_path") if isinstance(section, dict) else section
                if isinstance(path, str):
                    found[group] = path
        for group in ("model", "data"):
            if key in (f"--{group}", f"--{group}.class_path") and value:
                found[group] = value
        if key == "--model.help" and value:
            found["model"] = value
    if "." not in found.get("model", "."):  # `--model=PoseTask`, `--model.help PoseTask`
        name = found["model"]
        found["model"] = next((p for p in TASKS.values() if p.rpartition(".")[2] == name), name)
    return found


def data_class(name: str, task: type[HRNetTask]) -> type | None:
    """The data module class a config or flag names: a class path, or a class of the task package's
    `data` subpackage by name alone (`--data=CityscapesDataModule`); None for a name that only
    jsonargparse can resolve (a subclass imported elsewhere)."""
    if "." in name:
        return import_class(name)
    try:
        module = importlib.import_module(f"{task.__module__.rpartition('.')[0]}.data")
    except (ImportError, ValueError):
        return None
    found = getattr(module, name, None)
    return found if isinstance(found, type) else None


def task_command_line(args: list[str], subcommand: bool) -> tuple[type[HRNetTask], list[str]]:
    """The task of `args` and `args` with the task and its default data module put first (after the
    subcommand); both stay as given when the config or a flag names them. A nested knob's `null`
    is respelt as jsonargparse takes it (`hrnet_lit.cli.flags.nested_nulls`)."""
    chosen = chosen_classes(args)
    class_path = chosen.get("model", TASKS[DEFAULT_TASK])
    task = import_class(class_path)
    if not (isinstance(task, type) and issubclass(task, HRNetTask)):
        raise InputError(f"model.class_path {class_path!r} is not an hrnet-lit task (an HRNetTask subclass)")
    data = data_class(chosen["data"], task) if "data" in chosen else None
    if data is not None:
        kind = getattr(data, "kind", task.kind)  # a data module of the researcher's own may say none
        if kind != task.kind:
            raise InputError(
                f"data.class_path {chosen['data']!r} is {kind} data, and model.class_path {class_path!r} "
                f"a {task.kind} task: choose a data module of the task (its default: {task.default_data})"
            )
    first = [f"--model={class_path}", *([] if "data" in chosen else [f"--data={task.default_data}"])]
    head, rest = (args[:1], args[1:]) if subcommand and args else ([], args)
    rest = nested_nulls(rest)
    return task, [*head, *first, *rest]
