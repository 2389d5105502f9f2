"""Save the resolved config of every run in the run's own folder, and give it to W&B as the run config."""

from __future__ import annotations

import json
import os

import lightning.pytorch as pl
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger


class SaveRunConfig(SaveConfigCallback):
    """Lightning's SaveConfigCallback writes `config.yaml` into `trainer.log_dir`, which for W&B is the
    shared `save_dir`: the second W&B run there (or a resume) would refuse to start. With W&B the file
    goes into the W&B run's own folder instead (`run.dir`, synced with the run), and the whole
    resolved config becomes the W&B run config. Other loggers keep Lightning's behaviour (their
    log_dir is already per run).
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.save_to_log_dir = not isinstance(trainer.logger, WandbLogger)
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
