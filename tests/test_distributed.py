"""DDP on CPU: two gloo processes train, validate and checkpoint the quickstart, scoring the whole split."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from helpers import TINY_SEGMENTATION, metric_rows
from torch import nn

from hrnet_lit.cli import main
from hrnet_lit.models.sync_norm import SyncBatchNorm2d, use_native_sync_batchnorm
from hrnet_lit.segmentation.network import build_network as build_segmenter

QUICKSTART = Path(__file__).parents[1] / "configs" / "quickstart.yaml"


def last_row_with(run: Path, key: str) -> dict[str, str]:
    return [r for r in metric_rows(run) if r.get(key)][-1]


@pytest.fixture
def one_process_group() -> Iterator[None]:
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("backend", ["gloo", "nccl"])
def test_sync_batch_norm_is_torchs_own_except_on_gloo(
    one_process_group: None, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setattr(dist, "get_backend", lambda group=None: backend)  # no NCCL without GPUs
    net = build_segmenter(replace(TINY_SEGMENTATION, norm="sync_batch"), "v2", 5)
    before = net.state_dict(keep_vars=True)
    use_native_sync_batchnorm(net)
    kinds = {type(m) for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    assert kinds == ({SyncBatchNorm2d} if backend == "gloo" else {nn.SyncBatchNorm})
    after = net.state_dict(keep_vars=True)
    assert list(after) == list(before)  # checkpoints load into either
    assert all(after[k] is before[k] for k in before)  # the optimizer's parameters stay the same


@pytest.mark.slow
def test_ddp_validation_equals_one_process_on_the_saved_weights(tmp_path: Path, tiny_fit: list[str]) -> None:
    """5 validation images in batches of 2 over 2 ranks: shares of 3 and 2 images. Lightning's padded
    DistributedSampler would score image 0 twice, and the DDP mIoU would differ from one process's."""
    dropped = ("--trainer.devices", "--trainer.max_steps", "--trainer.limit_val_batches")
    common = [a for a in tiny_fit if not a.startswith(dropped)] + [
        "--model.backbone.norm=sync_batch",
        "--data.num_train=8",
        "--data.num_val=5",
        "--data.batch_size=2",
        "--trainer.limit_val_batches=1.0",
    ]
    ddp = subprocess.run(
        [
            str(Path(sys.executable).with_name("hrnet-lit")),
            "fit",
            f"--config={QUICKSTART}",
            *common,
            "--trainer.max_epochs=1",
            "--trainer.strategy=ddp",
            "--trainer.devices=2",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'ddp'}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    (run,) = (tmp_path / "ddp" / "quickstart").iterdir()
    checkpoint = run / "checkpoints" / "last.ckpt"
    # 8 images, 2 per step and rank: 2 steps when both ranks train on their own half.
    assert torch.load(checkpoint, weights_only=False)["global_step"] == 2

    main(
        [
            "validate",
            *common,
            "--trainer.devices=1",
            f"--ckpt_path={checkpoint}",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'single'}",
        ]
    )
    (single,) = (tmp_path / "single" / "lightning_logs" / "validate").iterdir()
    ddp_row, single_row = last_row_with(run, "val/mIoU"), last_row_with(single, "val/mIoU")
    scores = [k for k in single_row if k.startswith(("val/mIoU", "val/IoU/", "val/pixel_acc"))]
    assert len(scores) == 7  # mIoU, pixel accuracy, 5 classes
    assert {k: ddp_row[k] for k in scores} == {k: single_row[k] for k in scores}
