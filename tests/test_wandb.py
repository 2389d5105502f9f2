"""W&B logging (configs/logger/wandb.yaml) in offline mode: config, cost, metrics and images on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import wandb
import yaml
from PIL import Image

from hrnet_lit.cli import main

pytestmark = pytest.mark.slow

FAKE_KEY = "f" * 40


def test_offline_wandb_runs_share_a_save_dir(
    tmp_path: Path, tiny_fit: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    for fuse_method in ("sum", "concat"):  # the second run must not die on the first's config.yaml
        main(
            [
                "fit",
                "--config=configs/quickstart.yaml",
                "--config=configs/logger/wandb.yaml",
                *tiny_fit,
                "--trainer.num_sanity_val_steps=0",
                f"--model.backbone.fuse_method={fuse_method}",
                f"--trainer.logger.init_args.save_dir={tmp_path}",
            ]
        )
        wandb.finish()  # one process per run outside tests
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"), key=lambda p: p.stat().st_mtime)
    assert len(runs) == 2
    for run, fuse_method in zip(runs, ("sum", "concat"), strict=True):
        config = yaml.safe_load((run / "files" / "lightning_config.yaml").read_text())
        backbone = config["model"]["init_args"]["backbone"]
        assert backbone["fuse_method"] == fuse_method and backbone["width"] == 8
        record = next(run.glob("*.wandb")).read_bytes()
        for key in (
            b"val/mIoU",
            b"train/loss",
            b"cost/params",
            b"cost/gmacs",
            b"fuse_method",
            b"val/predictions",
        ):
            assert key in record, key
        panels = list((run / "files" / "media" / "images" / "val").glob("predictions_*.png"))
        assert panels
        width, height = Image.open(panels[0]).size
        assert (width, height) == (3 * 64, 64)  # input | ground truth | prediction
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert not leaked
