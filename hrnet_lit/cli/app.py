"""LightningCLI behind `hrnet-lit fit|validate|test|predict` for every task, and the parse-only fit
parser the tools use.

The task and its data module are chosen before the parser is built (`hrnet_lit.cli.task_choice`); a
`--ckpt_path` checkpoint is reconciled with the config and flags in `hrnet_lit.cli.checkpoint`.
"""

from __future__ import annotations

import sys
import warnings
from functools import partial
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from hrnet_lit import compat
from hrnet_lit.callbacks.checkpointing import AtomicCheckpointIO, LastCheckpoint
from hrnet_lit.callbacks.prediction_writer import PredictionWriter
from hrnet_lit.callbacks.run_config import SaveRunConfig
from hrnet_lit.cli.checkpoint import CheckpointFit, check_built_model, checkpoint_defaults
from hrnet_lit.cli.flags import config_values, flag_values
from hrnet_lit.cli.messages import HRNetArgumentParser
from hrnet_lit.cli.outputs import check_outputs, place_outputs
from hrnet_lit.cli.refusals import check_data_args, check_run_flags, lightning_refusal, warn_untrained
from hrnet_lit.cli.task_choice import task_arg, task_command_line

TRAINER_DEFAULTS = {
    "default_root_dir": "outputs",
    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "outputs"}},
}


class HRNetCLI(LightningCLI):
    """Fills the task's arguments with what the data knows (its `task_args`: classes, joints, their
    names, ...), and always keeps the best checkpoint by the task's `monitor` (`--checkpoint.*`) and
    `last.ckpt` with the latest state (`--last_checkpoint.*`), both written atomically, so a run
    resumes with `--ckpt_path=<run>/checkpoints/last.ckpt`."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        task = self.model_class
        for key in task.data_args:
            parser.link_arguments(
                "data", f"model.init_args.{key}", compute_fn=partial(task_arg, key), apply_on="instantiate"
            )
        for key, (sources, compute) in task.data_links().items():
            parser.link_arguments(
                tuple(f"model.init_args.{k}" for k in sources), f"data.init_args.{key}", compute_fn=compute
            )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": task.monitor,
                "checkpoint.mode": task.monitor_mode,
                "checkpoint.save_last": False,  # `last.ckpt` is LastCheckpoint's
                "checkpoint.filename": "best-epoch{epoch:03d}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(PredictionWriter, "predict_writer")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Every checkpoint is written atomically, unless the config brings its own CheckpointIO. A
        Trainer flag that Lightning refuses is one message naming it."""
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except (MisconfigurationException, ValueError) as error:
            config = self.config[self.subcommand] if self.subcommand else self.config
            refusal = lightning_refusal(error, trainer=config.trainer.as_dict())
            if refusal is None:
                raise
            raise refusal from None
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _prepare_subcommand_parser(
        self, klass: type, subcommand: str, **kwargs: Any
    ) -> LightningArgumentParser:
        """Lightning's own restore loads `--ckpt_path` with `weights_only=True` too."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if "weights_only" in compat.subcommand_method_arguments(self, subcommand):
            parser.set_defaults(weights_only=True)
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        self._argv = args  # parsed again over a checkpoint's hyperparameters
        super().parse_arguments(parser, args)

    def _parse_ckpt_path(self) -> None:
        """The checkpoint's hyperparameters become defaults that the config files and flags override
        (`hrnet_lit.cli.checkpoint`), where Lightning lets them beat every flag."""
        self._checkpoint_fit: CheckpointFit | None = checkpoint_defaults(self, self._argv)

    def before_instantiate_classes(self) -> None:
        """Before anything is built: where the run writes (`hrnet_lit.cli.outputs`), the flags that
        Lightning would take and no run can use (`hrnet_lit.cli.refusals`), what the user set of what
        the data decides, and one warning when an evaluation has no checkpoint to evaluate."""
        self._given_data_args: dict[str, Any] = {}
        if self.subcommand is None:  # the tools' parse-only CLI: it writes nothing
            return
        config = self.config[self.subcommand]
        flags = flag_values(self._argv)
        place_outputs(config, self.subcommand, flags)
        check_run_flags(config, self.subcommand, self.model_class)
        check_outputs(config, self.subcommand, flags)
        given = {
            **config_values(self._argv, "model"),
            **{k[6:]: v for k, v in flags.items() if k[:6] == "model."},
        }
        self._given_data_args = {k: given[k] for k in self.model_class.data_args if k in given}
        warn_untrained(self.subcommand, config)

    def instantiate_classes(self) -> None:
        """Lightning's refusal of a Trainer flag is one message naming the flag, not a traceback."""
        try:
            super().instantiate_classes()
        except (MisconfigurationException, ValueError) as error:
            refusal = lightning_refusal(error)
            if refusal is None:
                raise
            raise refusal from None

    def after_instantiate_classes(self) -> None:
        """What only the built model knows: the data module's classes, and every weight's shape; and
        that what a flag or the config set of the data's arguments (`num_classes`) is the data's."""
        if self._checkpoint_fit is not None:
            check_built_model(self._checkpoint_fit, self.model, self.datamodule)
        if self._given_data_args:
            check_data_args(self._given_data_args, self.model, self.datamodule)

    def _run_subcommand(self, subcommand: str) -> None:
        """The few Trainer flags Lightning checks only once the run starts, refused the same way."""
        try:
            super()._run_subcommand(subcommand)
        except (MisconfigurationException, ValueError) as error:
            refusal = lightning_refusal(error)
            if refusal is None:
                raise
            raise refusal from None


def lightning_cli(
    argv: list[str] | None = None, run: bool = True, cls: type[HRNetCLI] = HRNetCLI
) -> HRNetCLI:
    """The LightningCLI behind `hrnet-lit fit|validate|test|predict`; `run=False` parses and builds,
    without a subcommand in `argv`."""
    # the task's class goes in front of the command line, and the tools pass their own share of it
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    # tasks normalise their uint8 batches on the device in this hook, whatever the data module
    warnings.filterwarnings("ignore", message="You have overridden `on_after_batch_transfer` in `Lightning")
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
