"""Save the resolved config of every run in the run's own folder, and give it to W&B as the run config."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, WandbLogger

from hrnet_lit.errors import InputError

# What a run folder holds before the first step: the config, and the hyperparameters the logger saves.
_BEFORE_FIRST_STEP = {"config.yaml", "hparams.yaml"}


class SaveRunConfig(SaveConfigCallback):
    """Lightning's SaveConfigCallback writes `config.yaml` into `trainer.log_dir`, which for W&B is the
    shared `save_dir`: the second W&B run there (or a resume) would refuse to start. With W&B the file
    goes into the W&B run's own folder instead (`run.dir`, synced with the run), and the whole
    resolved config becomes the W&B run config. Other loggers keep Lightning's behaviour (their
    log_dir is already per run).

    Without a logger (`trainer.logger=false`) every run shares `trainer.default_root_dir` for its
    config and checkpoints. A fit resuming with `ckpt_path` continues the run whose config is there and
    replaces it; a fresh fit there would overwrite that run's checkpoints, so it is refused, naming the
    ways out. Validate, test and predict write nothing else there, so without a logger they save none.

    A run that fails before it wrote anything of its own (a bad file found in setup, a broken first
    batch) removes its `version_N` folder again, so failed attempts leave no empty runs behind.
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.save_to_log_dir = not isinstance(trainer.logger, WandbLogger)
        if trainer.logger is None:
            if stage != "fit":
                self.save_to_log_dir = False
            elif self.config.get("ckpt_path") is not None:
                self.overwrite = True
            else:
                _refuse_shared_folder(Path(trainer.default_root_dir) / self.config_filename)
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                run = logger.experiment
                # `config.yaml` in the run folder is W&B's own record of the run config.
                path = os.path.join(run.dir, f"lightning_{self.config_filename}")
                self.parser.save(self.config, path, skip_none=False, overwrite=True, multifile=False)
                config = json.loads(self.parser.dump(self.config, format="json", skip_none=False))
                run.config.update(config, allow_val_change=True)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger) and os.path.isdir(logger.log_dir):
                run = Path(logger.log_dir)
                written = [p for p in run.rglob("*") if p.is_file()]
                if all(p.parent == run and p.name in _BEFORE_FIRST_STEP for p in written):
                    shutil.rmtree(run)
                    if run.parent != Path(logger.save_dir) and not any(run.parent.iterdir()):
                        run.parent.rmdir()  # the logger's `name` folder, if this run was its only one


def _refuse_shared_folder(config: Path) -> None:
    if config.is_file():
        root = config.parent
        raise InputError(
            f"{config} holds the config of an earlier run without a logger, and this fit would overwrite "
            f"its checkpoints in {root / 'checkpoints'}: resume that run with "
            f"--ckpt_path={root / 'checkpoints' / 'last.ckpt'}, give this one its own "
            "--trainer.default_root_dir, or keep a logger (each of its runs gets a folder of its own)"
        )
