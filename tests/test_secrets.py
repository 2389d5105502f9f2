"""No key or token from the environment reaches anything a run writes: configs, logs, checkpoints,
the W&B offline run, a sweep's database and tables. Real `hrnet-lit` processes, as a user runs them."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import SEGMENTATION_FIT

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
HRNET_LIT = str(Path(sys.executable).parent / "hrnet-lit")
CONFIGS = [
    "--config",
    str(REPO / "configs/quickstart.yaml"),
    "--config",
    str(REPO / "configs/logger/wandb.yaml"),
]
SECRET_VARIABLES = ("WANDB_API_KEY", "HF_TOKEN", "GITHUB_TOKEN", "MY_SERVICE_TOKEN", "AWS_SECRET_ACCESS_KEY")


def run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Run a command in `cwd`, its output kept in `cwd/console.log` as a user's terminal log would."""
    with open(cwd / "console.log", "ab") as log:
        result = subprocess.run(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300)
    assert result.returncode == 0, (cwd / "console.log").read_text()[-3000:]


def test_no_secret_from_the_environment_is_written(tmp_path: Path) -> None:
    markers = {name: secrets.token_hex(20) for name in SECRET_VARIABLES}  # a W&B key has 40 characters
    env = {
        **os.environ,
        **markers,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        # W&B's own folders, inside the scanned tree.
        **{
            f"WANDB_{kind}_DIR": str(tmp_path / f"wandb_{kind.lower()}")
            for kind in ("CACHE", "CONFIG", "DATA")
        },
    }
    tiny = [a for a in SEGMENTATION_FIT if not a.startswith("--data.num_train")] + ["--data.num_train=4"]
    (tmp_path / "fit").mkdir()
    run(
        [HRNET_LIT, "fit", *CONFIGS, *tiny, f"--trainer.logger.init_args.save_dir={tmp_path / 'fit'}"],
        tmp_path / "fit",
        env,
    )
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    spec = {
        "method": "grid",
        "metric": {"name": "val/mIoU", "goal": "maximize"},
        "parameters": {"model.backbone.fuse_method": {"values": ["sum"]}},
        "command": ["${env}", "hrnet-lit", "fit", *CONFIGS, "${args}"],
    }
    (sweep / "tiny.yaml").write_text(yaml.safe_dump(spec))
    run([HRNET_LIT, "sweep", "tiny.yaml", "--output=out", *(f"--extra+={a}" for a in tiny)], sweep, env)

    # W&B's service process writes a run's `.wandb` file on its own time, after the run's process has
    # ended: under load it can land a few seconds later.
    deadline = time.monotonic() + 60
    while len(list(tmp_path.rglob("*.wandb"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    # The runs happened and wrote what is scanned: checkpoints, configs, W&B offline runs, the study.
    assert {
        "last.ckpt",
        "lightning_config.yaml",
        "hparams.yaml",
        "metrics.csv",
        "optuna.db",
        "results.csv",
    } <= names
    assert len([p for p in written if p.suffix == ".wandb"]) == 2  # the fit's and the sweep run's
    leaks = {
        name: [str(p.relative_to(tmp_path)) for p in written if marker.encode() in p.read_bytes()]
        for name, marker in markers.items()
    }
    assert leaks == {name: [] for name in markers}
