"""A `hrnet-lit fit` command line read without running it: what `summary`, `export`, `bench` and
`sweep` take from a run's config (its resolved values, its task's network arguments)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule

from hrnet_lit.cli.app import HRNetCLI, lightning_cli
from hrnet_lit.cli.task_choice import import_class, task_arg
from hrnet_lit.common.task import HRNetTask


class _ParseOnlyCLI(HRNetCLI):
    def instantiate_classes(self) -> None:
        """Parse and validate, build nothing (no Trainer, no devices, no data)."""


def parse_fit_args(argv: list[str]) -> Namespace:
    """The resolved fit config (config files, then flags) of `hrnet-lit fit <argv>`, without building it.

    Raises SystemExit with jsonargparse's message naming the key when a flag or value is rejected.
    """
    return lightning_cli(argv, run=False, cls=_ParseOnlyCLI).config


def config_network(config: Namespace) -> tuple[type[HRNetTask], dict[str, Any], LightningDataModule]:
    """The task class, its `architecture` arguments (filled from the data module as a fit would) and
    the data module of a parsed fit config: what the tools build a network from (`task.build_network`),
    without a Trainer and without the task's metrics, losses and weights."""
    task = import_class(config.model.class_path)
    data = import_class(config.data.class_path)(**vars(config.data.get("init_args") or Namespace()))
    given = {**vars(config.model.init_args), **{k: task_arg(k, data) for k in task.data_args}}
    hints = typing.get_type_hints(task.build_network)
    arch = {k: given[k] for k in task.architecture if k in given}
    for key, value in arch.items():  # groups of knobs (a BackboneConfig) parse as namespaces
        if isinstance(value, Namespace) and dataclasses.is_dataclass(hints.get(key)):
            arch[key] = hints[key](**vars(value))
    return task, arch, data
