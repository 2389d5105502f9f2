"""Checkpoints written before the one-package-per-task layout (tests/fixtures/pre_move: tiny fits of
the segmentation, pose and detection quickstarts, with the run config the CLI saved beside them) still
validate and resume: their `_class_path`s and their configs' `class_path`s name the old modules."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from hrnet_lit.cli import main

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pre_move"
TASKS = ("segmentation", "pose", "detection")


def last_row(save_dir: Path, column: str) -> float:
    """The last value of `column` in the one metrics.csv under `save_dir`."""
    (path,) = save_dir.rglob("metrics.csv")
    with path.open() as file:
        values = [row[column] for row in csv.DictReader(file) if row.get(column)]
    return float(values[-1])


@pytest.mark.parametrize("task", TASKS)
def test_pre_move_checkpoint_validates_and_resumes(task: str, tmp_path: Path) -> None:
    folder = FIXTURES / task
    saved = torch.load(folder / "last.ckpt", weights_only=True)
    assert saved["hyper_parameters"]["_class_path"].startswith("hrnet_lit.tasks.")  # the old path
    common = [f"--config={folder / 'config.yaml'}", f"--trainer.default_root_dir={tmp_path}"]
    monitor = {"segmentation": "val/mIoU", "pose": "val/AP", "detection": "val/mAP50"}[task]

    main(
        [
            "validate",
            *common,
            f"--ckpt_path={folder / 'last.ckpt'}",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'validate'}",
        ]
    )
    assert 0.0 <= last_row(tmp_path / "validate", monitor) <= 1.0

    main(
        [
            "fit",
            *common,
            f"--ckpt_path={folder / 'last.ckpt'}",
            "--trainer.max_steps=6",
            "--trainer.max_epochs=3",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'resume'}",
        ]
    )
    (last,) = (tmp_path / "resume").rglob("last.ckpt")
    resumed = torch.load(last, weights_only=True)
    assert resumed["global_step"] == 6 and saved["global_step"] == 2
