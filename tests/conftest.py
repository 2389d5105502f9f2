"""Shared settings: tiny networks and data so end-to-end runs take seconds."""

from __future__ import annotations

import os

import pytest
import torch

# One thread per process: the tiny runs gain nothing from more, and the CLI and sweep
# subprocesses they start would otherwise fight over the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(1)

# A few seconds per run on 2 cores: W18-small-v1 layout at width 8 on 64 x 64 synthetic images.
TINY_FIT = [
    "--seed_everything=0",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.max_steps=2",
    "--trainer.log_every_n_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.preset=w18_small_v1",
    "--model.backbone.width=8",
    "--data.class_path=hrnet_lit.segmentation.data.SyntheticDataModule",
    "--data.num_train=8",
    "--data.num_val=4",
    "--data.image_size=[64,64]",
    "--data.crop_size=[64,64]",
    "--data.batch_size=4",
    "--data.num_workers=0",
]


@pytest.fixture
def tiny_fit() -> list[str]:
    return list(TINY_FIT)
