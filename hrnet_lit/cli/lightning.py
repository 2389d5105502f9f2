"""LightningCLI behind `hrnet-lit fit|validate|test|predict` for every task (the tools' parse-only
use of it is `hrnet_lit.tools.fit_config`).

The task is known before the parser is built: the config's (or a flag's) `model.class_path`, or
segmentation when none names one. It and its default data module are put
first on the command line, so the config files and flags that follow set their arguments
(`--model.backbone.width=48`, no `init_args` needed) and no other class's defaults are carried over.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import textwrap
import warnings
from argparse import ArgumentError
from functools import partial
from typing import Any, NoReturn

import yaml
from jsonargparse import Namespace
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from hrnet_lit.callbacks.checkpointing import AtomicCheckpointIO, LastCheckpoint
from hrnet_lit.callbacks.prediction_writer import PredictionWriter
from hrnet_lit.callbacks.run_config import SaveRunConfig
from hrnet_lit.cli.checkpoint_config import contradictions, model_hparams, show
from hrnet_lit.common.checkpoint_file import read_checkpoint
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.errors import InputError
from hrnet_lit.registry import DEFAULT_TASK, TASKS

TRAINER_DEFAULTS = {
    "default_root_dir": "outputs",
    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "outputs"}},
}


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
    subcommand); both stay as given when the config or a flag names them."""
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
    return task, [*head, *first, *rest]


class HRNetCLI(LightningCLI):
    """Fills the task's arguments with what the data knows (its `task_args`: classes, joints, their
    names, ...), and always keeps the best checkpoint by the task's `monitor` (`--checkpoint.*`) and
    `last.ckpt` with the latest state (`--last_checkpoint.*`), both written atomically, so a run
    resumes with `--ckpt_path=<run>/checkpoints/last.ckpt`."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        task = self._model_class
        for key in task.data_args:
            parser.link_arguments(
                "data", f"model.init_args.{key}", compute_fn=partial(task_arg, key), apply_on="instantiate"
            )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": task.monitor,
                "checkpoint.mode": "max",
                "checkpoint.save_last": False,  # `last.ckpt` is LastCheckpoint's
                "checkpoint.filename": "best-epoch{epoch:03d}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(PredictionWriter, "predict_writer")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Every checkpoint is written atomically, unless the config brings its own CheckpointIO."""
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _prepare_subcommand_parser(
        self, klass: type, subcommand: str, **kwargs: Any
    ) -> LightningArgumentParser:
        """Lightning's own restore loads `--ckpt_path` with `weights_only=True` too."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if "weights_only" in self._subcommand_method_arguments[subcommand]:
            parser.set_defaults(weights_only=True)
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        self._argv = args  # parsed again over a checkpoint's hyperparameters
        super().parse_arguments(parser, args)

    def _parse_ckpt_path(self) -> None:
        """The checkpoint's hyperparameters become defaults that the config files and flags override.

        Lightning parses them over the finished config instead, so the checkpoint silently beat every
        flag (`--model.eval_flip=true` evaluated without flip). Architecture arguments
        (`HRNetTask.architecture`, see `hrnet_lit.cli.checkpoint_config`) that the config or flags set
        otherwise than the checkpoint are an `InputError` naming the key and both values.
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        if config.get("weights_only") is False:
            raise InputError("--weights_only=false: hrnet-lit loads checkpoints with weights_only=True only")
        path = config.get("ckpt_path")
        if path is None or path in ("best", "last", "hpc", "registry") or str(path).startswith("registry:"):
            return  # Lightning resolves these names itself (and loads with weights_only=True)
        checkpoint = read_checkpoint(path)
        where = f"--ckpt_path {str(path)!r}"
        task = self._model_class
        class_path, hparams = model_hparams(checkpoint)
        if class_path is not None and not names_class(class_path, task):
            raise InputError(f"{where} is a checkpoint of {class_path}, not of {task.__qualname__}")
        model = config.model.init_args
        given = set(vars(model)) - set(task.data_args)  # those come from the data module
        arguments = given | set(inspect.signature(task).parameters)
        unknown = sorted(set(hparams) - arguments)
        if unknown:
            raise InputError(
                f"{where}: {', '.join(unknown)} are not arguments of {task.__qualname__} "
                "(a checkpoint of another task?)"
            )
        settable = {k: v for k, v in hparams.items() if k in given}
        over = {subcommand: {"model": {"class_path": config.model.class_path, "init_args": settable}}}
        typed = self._parse_over(where, over, self.config)[subcommand].model.init_args
        saved = {k: typed[k] for k in settable}
        self._subcommand_parsers[subcommand].set_defaults(
            {"model": {"class_path": config.model.class_path, "init_args": settable}}
        )
        self.config = self._parse_over(where, None, None)
        found = contradictions(task.architecture, saved, self.config[subcommand].model.init_args)
        if found:
            said = [
                f"model.{k}: the checkpoint has {show(a)}, the config/flags say {show(b)}"
                for k, a, b in found
            ]
            raise InputError(
                f"{where}: {'; '.join(said)} (the architecture comes from the checkpoint: drop these "
                "or start a new fit)"
            )
        linked = {k: hparams[k] for k in task.architecture if k in hparams and k not in given}
        shapes = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items()}
        self._checkpoint_fit = (where, linked, shapes)

    def _parse_over(self, where: str, hparams: dict[str, Any] | None, base: Namespace | None) -> Namespace:
        """`hparams` parsed over `base`, or the command line again when None; a rejected value names
        the checkpoint."""
        exit_on_error, self.parser.exit_on_error = self.parser.exit_on_error, False
        try:
            if hparams is None:
                self.parse_arguments(self.parser, self._argv)
                return self.config
            return self.parser.parse_object(hparams, base.clone())
        except ArgumentError as error:
            raise InputError(f"{where}: its hyperparameters do not parse: {error}") from None
        finally:
            self.parser.exit_on_error = exit_on_error

    def after_instantiate_classes(self) -> None:
        """What only the built model knows: the data module's classes, and every weight's shape."""
        if not hasattr(self, "_checkpoint_fit"):
            return
        where, linked, shapes = self._checkpoint_fit
        for key, value in linked.items():
            if self.model.hparams.get(key) != value:
                raise InputError(
                    f"{where}: model.{key}: the checkpoint has {show(value)}, the data module "
                    f"({type(self.datamodule).__qualname__}) gives {show(self.model.hparams.get(key))}"
                )
        model = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
        if model != shapes:
            missing = sorted(set(model) - set(shapes))[:3]
            unexpected = sorted(set(shapes) - set(model))[:3]
            common = sorted(set(model) & set(shapes))
            other = [f"{k} {list(shapes[k])} vs {list(model[k])}" for k in common if model[k] != shapes[k]]
            raise InputError(
                f"{where} does not fit {type(self.model).__qualname__}: missing {missing}, unexpected "
                f"{unexpected}, shapes (checkpoint vs model) {other[:3]}"
            )


_CLASS_ERROR = re.compile(
    r'Parser key "(?P<group>model|data)":\s+Does not validate against any of the Union subtypes.*?'
    r"Problem with given class_path '(?P<cls>[^']+)':\n(?P<inner>.*?)\n    - Expected a <class 'NoneType'>",
    re.DOTALL,
)


def class_error(message: str) -> str:
    """jsonargparse's message for a rejected `--model.*` / `--data.*` value, without the union of
    "the class or None" around it, and with the keys spelt as the user gave them."""
    found = _CLASS_ERROR.match(message)
    if found is None:
        return message
    group = found["group"]
    inner = textwrap.dedent(found["inner"]).strip()
    inner = re.sub(r"--(\w)", rf"--{group}.\1", inner)
    inner = re.sub(r'(Parser key "|Option \')', rf"\1{group}.", inner)
    return f"{group} ({found['cls']}): {inner}"


class HRNetArgumentParser(LightningArgumentParser):
    """jsonargparse prints the whole usage (over a hundred lines for `fit`) above the message of a
    rejected flag or value; the message and where the options are listed is what a user needs."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or os.environ.get("JSONARGPARSE_DEBUG"):
            super().error(message, ex)
        words = (getattr(ex, "subcommand_parser", None) or self).prog.replace(" [options]", "").split()
        command = " ".join(["hrnet-lit", *words[1:]])
        sys.stderr.write(f"{command}: error: {class_error(message)}\n")
        if words[1:]:  # the parse-only parser of the tools has no subcommand, and no `--help` of its own
            sys.stderr.write(f"(`{command} --help` lists the accepted options)\n")
        raise SystemExit(2)


def lightning_cli(
    argv: list[str] | None = None, run: bool = True, cls: type[HRNetCLI] = HRNetCLI
) -> HRNetCLI:
    """The LightningCLI behind `hrnet-lit fit|validate|test|predict`; `run=False` parses and builds,
    without a subcommand in `argv`."""
    # the task's class goes in front of the command line, and the tools pass their own share of it
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    task, args = task_command_line(sys.argv[1:] if argv is None else argv, subcommand=run)
    return cls(
        task,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,  # `--optimizer` must not silently replace the task's own
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_callback=SaveRunConfig,  # config.yaml per run, also with W&B's shared save_dir
        parser_class=HRNetArgumentParser,
        args=args,
        run=run,
    )
