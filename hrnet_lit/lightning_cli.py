"""LightningCLI behind `hrnet-lit fit|validate|test|predict`, and the parse-only fit parser the tools use."""

from __future__ import annotations

import warnings
from typing import Any

from jsonargparse import Namespace
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from hrnet_lit.data import SegmentationDataModule
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
        args=argv,
        run=run,
    )


def parse_fit_args(argv: list[str]) -> Namespace:
    """The resolved fit config (config files, then flags) of `hrnet-lit fit <argv>`, without building it.

    Raises SystemExit with jsonargparse's message naming the key when a flag or value is rejected.
    """
    return lightning_cli(argv, run=False, cls=_ParseOnlyCLI).config
