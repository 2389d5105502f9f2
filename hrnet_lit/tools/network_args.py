"""The flags that name a network, and the `--config` mode, shared by `summary`, `export` and `bench`.

They describe either a fresh network of a task (`--task`, backbone knobs, `--head`, `--num_classes`)
or the network a `hrnet-lit fit --config ...` run trains; in the second mode their own flags are
picked out and everything else goes to the fit parser. Either way the network is the task's own
`build_network`: on flags it is reached through the task package's Lightning-free `network` module,
so these commands start without importing Lightning.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Literal

from jsonargparse import ArgumentParser, Namespace
from torch import nn

from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.registry import DEFAULT_TASK, TASKS

TaskName = Literal[tuple(TASKS)]  # type: ignore[valid-type]


def network_module(task: str) -> ModuleType:
    """`hrnet_lit.<task>.network`: the builder that the task's `build_network` is, with its defaults."""
    if task not in TASKS:
        raise InputError(f"task={task!r} is not a known task; choose one of {tuple(TASKS)}")
    return importlib.import_module(f"{TASKS[task].rpartition('.')[0]}.network")


def task_heads(task: str) -> tuple[str, ...]:
    """The heads that `task`'s network accepts (its builder's `head` type)."""
    return typing.get_args(typing.get_type_hints(network_module(task).build_network)["head"])


def named_task(argv: list[str]) -> str:
    """The `--task` that `argv` names (the last one), read before parsing so that the parser can show
    and use that task's defaults; the default task for none, or for a name the parser will refuse."""
    found = DEFAULT_TASK
    for k, arg in enumerate(argv):
        key, _, value = arg.partition("=")
        if key == "--task":
            found = value or (argv[k + 1] if k + 1 < len(argv) else "")
    return found if found in TASKS else DEFAULT_TASK


def add_network_arguments(parser: ArgumentParser, task: str = DEFAULT_TASK) -> None:
    """`--task`, the backbone knobs (`--preset`, `--width`, ...), `--head` and `--num_classes`, with
    the defaults of `task`'s network (its backbone, head and output size)."""
    module = network_module(task)
    defaults = inspect.signature(module.build_network).parameters
    parser.add_argument("--task", type=TaskName, default=task, help="the task whose network this is")
    parser.add_class_arguments(BackboneConfig, as_group=True)
    parser.set_defaults(asdict(defaults["backbone"].default))
    parser.add_argument(
        "--head", type=str, default=defaults["head"].default, help=f"representation head: {task_heads(task)}"
    )
    parser.add_argument(
        "--num_classes",
        type=int,
        default=defaults[module.OUTPUT_ARG].default,
        help=f"size of the output space (the task's `{module.OUTPUT_ARG}`)",
    )


@dataclass(frozen=True)
class NetworkArgs:
    """A task's network named by those flags; `build` makes it with the task's `build_network`."""

    task: str
    backbone: BackboneConfig
    head: str
    num_classes: int

    @classmethod
    def from_namespace(cls, args: Namespace) -> NetworkArgs:
        knobs = {k: args[k] for k in BackboneConfig.__dataclass_fields__}
        return cls(args.task, BackboneConfig(**knobs), args.head, args.num_classes)

    def arguments(self) -> dict[str, Any]:
        """The task's `architecture` arguments these flags set (the rest keep the task's defaults)."""
        heads = task_heads(self.task)
        if self.head not in heads:
            raise InputError(f"head={self.head!r} is not a head of task {self.task}; choose one of {heads}")
        output = network_module(self.task).OUTPUT_ARG
        return {"backbone": self.backbone, "head": self.head, output: self.num_classes}

    def build(self) -> nn.Module:
        return network_module(self.task).build_network(**self.arguments())


def uses_fit_config(argv: list[str], also: tuple[str, ...] = ()) -> bool:
    """Whether `argv` names a fit config (`--config`), or one of the flags in `also`."""
    return any(a == "--config" or a.startswith(("--config=", *also)) for a in argv)


def split_own_flags(argv: list[str], own: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(the command's own `--flag=value` arguments, the rest for the fit parser)."""
    mine = [a for a in argv if a.startswith(own)]
    return mine, [a for a in argv if a not in mine]


def check_input_size(size: tuple[int, int] | list[int] | None, key: str = "--input_size") -> None:
    """An `InputError` unless `size` (H, W) is None or two positive numbers of pixels."""
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise InputError(f"{key}={list(size)}: expected [H, W], each at least 1 pixel")
