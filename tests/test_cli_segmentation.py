"""The real `hrnet-lit` entry point end to end: fit, validate, test, predict (resume: test_resume.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import fit, metric_rows
from PIL import Image

from hrnet_lit.cli import main

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("head", "fuse_method"), [("v1", "sum"), ("v2", "sum"), ("v2p", "sum"), ("v2", "attention")]
)
def test_fit_heads_and_fuse_methods(tmp_path: Path, tiny_fit: list[str], head: str, fuse_method: str) -> None:
    metrics = fit(
        [*tiny_fit, f"--model.head={head}", f"--model.backbone.fuse_method={fuse_method}"], tmp_path
    )
    assert "train/loss" in metrics
    assert 0.0 <= metrics["val/mIoU"] <= 1.0
    (run,) = [p for p in (tmp_path / "lightning_logs").iterdir() if p.is_dir()]
    assert {"best-epoch000.ckpt", "last.ckpt"} <= {p.name for p in (run / "checkpoints").iterdir()}
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["hyper_parameters"]["head"] == head
    assert ckpt["hyper_parameters"]["backbone"]["fuse_method"] == fuse_method
    assert ckpt["hyper_parameters"]["num_classes"] == 5  # linked from the data module


def test_validate_test_predict_from_checkpoint(tmp_path: Path, tiny_fit: list[str]) -> None:
    fit(tiny_fit, tmp_path / "fit")
    (ckpt,) = (tmp_path / "fit").glob("lightning_logs/*/checkpoints/last.ckpt")
    eval_args = [a for a in tiny_fit if not a.startswith("--trainer.max_steps")]
    for command in ("validate", "test"):
        main(
            [
                command,
                *eval_args,
                f"--ckpt_path={ckpt}",
                f"--trainer.logger.init_args.save_dir={tmp_path / command}",
            ]
        )
    assert any(r.get("test/mIoU") for r in metric_rows(tmp_path / "test"))

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("a.png", (37, 53)), ("b.jpg", (64, 48))):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(images / name)
    out = tmp_path / "masks"
    main(
        [
            "predict",
            *eval_args,
            f"--ckpt_path={ckpt}",
            f"--data.predict_dir={images}",
            f"--predict_writer.output_dir={out}",
            "--predict_writer.overlay=true",
        ]
    )
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "a_overlay.jpg", "b.png", "b_overlay.jpg"]
    mask = np.array(Image.open(out / "a.png"))
    assert mask.shape == (37, 53, 3)
    from hrnet_lit.segmentation.data import PALETTE

    assert {tuple(c) for c in mask.reshape(-1, 3)} <= {tuple(c) for c in np.asarray(PALETTE)}
