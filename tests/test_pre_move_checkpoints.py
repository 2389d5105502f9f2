"""Checkpoints written before the one-package-per-task layout (tests/fixtures/pre_move: tiny fits of
the segmentation, pose and detection quickstarts, with the run config the CLI saved beside them) still
validate and resume: their `_class_path`s and their configs' `class_path`s name the old modules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import last_logged

from hrnet_lit.cli import main

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pre_move"
TASKS = ("segmentation", "pose", "detection")


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
    assert 0.0 <= last_logged(tmp_path / "validate", monitor) <= 1.0

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
