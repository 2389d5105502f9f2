"""LightningCLI behind `hrnet-lit fit|validate|test|predict`, and the parse-only fit parser the tools use."""

from __future__ import annotations

import inspect
import os
import sys
import warnings
from argparse import ArgumentError
from typing import Any, NoReturn

from jsonargparse import Namespace
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from hrnet_lit.checkpoint_config import contradictions, model_hparams, show
from hrnet_lit.checkpoint_file import read_checkpoint
from hrnet_lit.data import SegmentationDataModule
from hrnet_lit.errors import InputError
from hrnet_lit.tasks import SegmentationTask
from hrnet_lit.tasks.checkpointing import AtomicCheckpointIO, LastCheckpoint
from hrnet_lit.tasks.mask_writer import MaskWriter
from hrnet_lit.tasks.run_config import SaveRunConfig

TRAINER_DEFAULTS = {
    "default_root_dir": "outputs",
    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "outputs"}},
}


class HRNetCLI(LightningCLI):
    """Links what the data knows (classes, their names, the ignore label) into the model, and always
    keeps the best checkpoint (`--checkpoint.*`) and `last.ckpt` with the latest state
    (`--last_checkpoint.*`), both written atomically, so a run resumes with
    `--ckpt_path=<run>/checkpoints/last.ckpt`."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.set_defaults({"data": {"class_path": "hrnet_lit.data.SyntheticDataModule"}})
        for key in ("num_classes", "class_names", "ignore_index"):
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/mIoU",
                "checkpoint.mode": "max",
                "checkpoint.save_last": False,  # `last.ckpt` is LastCheckpoint's
                "checkpoint.filename": "best-epoch{epoch:03d}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(MaskWriter, "predict_writer")

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
        (`HRNetTask.architecture`, see `hrnet_lit.checkpoint_config`) that the config or flags set
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
        if class_path is not None and class_path != f"{task.__module__}.{task.__qualname__}":
            raise InputError(f"{where} is a checkpoint of {class_path}, not of {task.__qualname__}")
        given = set(vars(config.model))
        arguments = given | set(inspect.signature(task).parameters)
        unknown = sorted(set(hparams) - arguments)
        if unknown:
            raise InputError(
                f"{where}: {', '.join(unknown)} are not arguments of {task.__qualname__} "
                "(a checkpoint of another task?)"
            )
        settable = {k: v for k, v in hparams.items() if k in given}
        typed = self._parse_over(where, {subcommand: {"model": settable}}, self.config)[subcommand].model
        saved = {k: typed[k] for k in settable}
        self._subcommand_parsers[subcommand].set_defaults(
            {f"model.{k}": v for k, v in typed.items() if k.split(".")[0] in settable}
        )
        self.config = self._parse_over(where, None, None)
        found = contradictions(task.architecture, saved, self.config[subcommand].model)
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


class HRNetArgumentParser(LightningArgumentParser):
    """jsonargparse prints the whole usage (over a hundred lines for `fit`) above the message of a
    rejected flag or value; the message and where the options are listed is what a user needs."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or os.environ.get("JSONARGPARSE_DEBUG"):
            super().error(message, ex)
        words = (getattr(ex, "subcommand_parser", None) or self).prog.replace(" [options]", "").split()
        command = " ".join(["hrnet-lit", *words[1:]])
        sys.stderr.write(f"{command}: error: {message}\n")
        if words[1:]:  # the parse-only parser of the tools has no subcommand, and no `--help` of its own
            sys.stderr.write(f"(`{command} --help` lists the accepted options)\n")
        raise SystemExit(2)


class _ParseOnlyCLI(HRNetCLI):
    def instantiate_classes(self) -> None:
        """Parse and validate, build nothing (no Trainer, no devices, no data)."""


def lightning_cli(
    argv: list[str] | None = None, run: bool = True, cls: type[HRNetCLI] = HRNetCLI
) -> HRNetCLI:
    """The LightningCLI behind `hrnet-lit fit|validate|test|predict`; `run=False` parses and builds,
    without a subcommand in `argv`."""
    if argv is not None:  # the tools pass their own share of the command line on purpose
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    return cls(
        SegmentationTask,
        SegmentationDataModule,
        subclass_mode_data=True,
        auto_configure_optimizers=False,  # `--optimizer` must not silently replace the task's own
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_callback=SaveRunConfig,  # config.yaml per run, also with W&B's shared save_dir
        parser_class=HRNetArgumentParser,
        args=argv,
        run=run,
    )


def parse_fit_args(argv: list[str]) -> Namespace:
    """The resolved fit config (config files, then flags) of `hrnet-lit fit <argv>`, without building it.

    Raises SystemExit with jsonargparse's message naming the key when a flag or value is rejected.
    """
    return lightning_cli(argv, run=False, cls=_ParseOnlyCLI).config
