"""Bad flags and output paths on every task's CLI and on the tools, one table (the pattern of
tests/test_bad_input.py): optimizer and schedule knobs, the Trainer's and the checkpoints' flags,
outputs that cannot be written or would replace another run's files, output sizes that contradict
the data, sweeps that could never report their metric. Each row must stop with exit status 2 (or an
`InputError`), one message naming the key, file or value, no traceback and nothing written."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from bad_input import Case, refusal
from helpers import CLASSIFICATION_FIT, DETECTION_FIT, POSE_FIT

CONFIGS = {
    "pose": "configs/pose/quickstart.yaml",
    "classification": "configs/classification/quickstart.yaml",
    "detection": "configs/detection/quickstart.yaml",
}
TINY = {"pose": POSE_FIT, "classification": CLASSIFICATION_FIT, "detection": DETECTION_FIT}
# one step, no sanity check: a row that is (wrongly) accepted costs seconds
ONE_STEP = ["--trainer.max_steps=1", "--trainer.num_sanity_val_steps=0", "--trainer.limit_val_batches=1"]


def out(tmp: Path) -> list[str]:
    return [f"--trainer.default_root_dir={tmp / 'out'}", f"--trainer.logger.init_args.save_dir={tmp / 'out'}"]


def run(command: str, task: str, tmp: Path, *extra: str) -> list[str]:
    """`hrnet-lit <command>` on the task's quickstart at its tiny size, writing under tmp/out."""
    return [command, f"--config={CONFIGS[task]}", *TINY[task], *ONE_STEP, *out(tmp), *extra]


def unwritable(tmp: Path) -> Path:
    """A folder nothing can be written into: read-only, or for root (whom modes do not stop) one under
    /sys, where no folder can be created."""
    if os.geteuid() == 0:
        return Path("/sys/hrnet-lit-read-only")
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def a_file(tmp: Path, name: str = "file.txt") -> Path:
    path = tmp / name
    path.write_text("a file, not a folder\n")
    return path


def earlier_run(tmp: Path) -> Path:
    """The checkpoints folder of an earlier run (outside tmp/out, which must stay empty)."""
    folder = tmp / "runs" / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "last.ckpt").write_bytes(b"the earlier run's checkpoint")
    return folder


def optimizer_knobs(**knobs: Any) -> None:
    from hrnet_lit.common.optim_knobs import check_optimizer_knobs

    check_optimizer_knobs(**{"optimizer": "sgd", "scheduler": "poly", **knobs})


def sweep_file(tmp: Path, task: str = "pose", metric: str = "val/AP", **changes: Any) -> Path:
    config = str(Path(CONFIGS[task]).resolve())
    spec = {
        "method": "grid",
        "metric": {"name": metric, "goal": "maximize"},
        "parameters": {"model.lr": {"values": [0.001, 0.002]}},
        "command": ["${env}", "hrnet-lit", "fit", "--config", config, *TINY[task], *ONE_STEP, "${args}"],
        **changes,
    }
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def sweep(tmp: Path, path: Path, *extra: str) -> list[str]:
    return ["sweep", str(path), f"--output={tmp / 'out' / 'sweep'}", "--dry_run=true", *extra]


CASES = [
    # -- optimizer and schedule knobs -----------------------------------------------------------------
    Case("pose-lr-negative", lambda t: run("fit", "pose", t, "--model.lr=-0.01"), r"model\.lr.*-0\.01"),
    Case("classification-lr-zero", lambda t: run("fit", "classification", t, "--model.lr=0"), r"model\.lr"),
    Case(
        "detection-optimizer-unknown",
        lambda t: run("fit", "detection", t, "--model.optimizer=adamz"),
        r"model\.optimizer.*adamz",
    ),
    Case(
        "pose-optimizer-unknown",
        lambda t: run("validate", "pose", t, "--model.optimizer=sgdd"),
        r"model\.optimizer.*sgdd",
    ),
    Case(
        "classification-scheduler-unknown",
        lambda t: run("fit", "classification", t, "--model.scheduler=polyy"),
        r"model\.scheduler.*polyy",
    ),
    Case(
        "detection-scheduler-unknown",
        lambda t: run("fit", "detection", t, "--model.scheduler=cosine_annealing"),
        r"model\.scheduler.*cosine_annealing",
    ),
    Case(
        "pose-weight_decay-negative",
        lambda t: run("fit", "pose", t, "--model.weight_decay=-0.0001"),
        r"model\.weight_decay",
    ),
    Case(
        "classification-momentum-negative",
        lambda t: run("fit", "classification", t, "--model.momentum=-0.5"),
        r"model\.momentum.*-0\.5",
    ),
    Case(
        "detection-momentum-over-one",
        lambda t: run("fit", "detection", t, "--model.momentum=1.5"),
        r"model\.momentum.*1\.5",
    ),
    Case(
        "pose-warmup-negative",
        lambda t: run("fit", "pose", t, "--model.warmup_epochs=-1"),
        r"model\.warmup_epochs",
    ),
    Case(
        "classification-min_lr-negative",
        lambda t: run("fit", "classification", t, "--model.min_lr=-1e-5"),
        r"model\.min_lr",
    ),
    Case(
        "detection-min_lr-over-lr",
        lambda t: run("fit", "detection", t, "--model.lr=0.001", "--model.min_lr=0.01"),
        r"model\.min_lr.*model\.lr|model\.lr.*model\.min_lr",
    ),
    Case(
        "detection-poly_power-negative",
        lambda t: run("fit", "detection", t, "--model.scheduler=poly", "--model.poly_power=-1"),
        r"model\.poly_power",
    ),
    Case(
        "pose-decay_rate-zero", lambda t: run("fit", "pose", t, "--model.decay_rate=0"), r"model\.decay_rate"
    ),
    Case(
        "pose-decay_milestones-unsorted",
        lambda t: run("fit", "pose", t, "--model.decay_milestones=[6,2]"),
        r"model\.decay_milestones",
    ),
    Case(
        "classification-decay_milestones-negative",
        lambda t: run("fit", "classification", t, "--model.decay_milestones=[-1]"),
        r"model\.decay_milestones",
    ),
    Case(
        "api-optimizer-knobs",
        lambda t: lambda: optimizer_knobs(lr=float("nan")),
        r"model\.lr.*nan",
    ),
    # -- the Trainer's flags --------------------------------------------------------------------------
    Case(
        "classification-max_epochs-negative",
        lambda t: run("fit", "classification", t, "--trainer.max_epochs=-5"),
        r"trainer\.max_epochs.*-5",
    ),
    Case(
        "pose-max_steps-negative",
        lambda t: run("fit", "pose", t, "--trainer.max_steps=-5"),
        r"trainer\.max_steps.*-5",
    ),
    Case(
        "detection-accumulate_grad_batches-zero",
        lambda t: run("fit", "detection", t, "--trainer.accumulate_grad_batches=0"),
        r"trainer\.accumulate_grad_batches",
    ),
    Case(
        "pose-precision-unknown",
        lambda t: run("fit", "pose", t, "--trainer.precision=bf17"),
        r"trainer\.precision.*bf17|bf17.*trainer\.precision",
    ),
    Case(
        "classification-accelerator-unknown",
        lambda t: run("fit", "classification", t, "--trainer.accelerator=abacus"),
        r"trainer\.accelerator.*abacus|abacus.*trainer\.accelerator",
    ),
    Case(
        "detection-devices-zero",
        lambda t: run("validate", "detection", t, "--trainer.devices=0"),
        r"trainer\.devices",
    ),
    Case(
        "classification-gradient_clip_algorithm-unknown",
        lambda t: run("fit", "classification", t, "--trainer.gradient_clip_algorithm=max"),
        r"gradient_clip_algorithm.*max",
    ),
    Case(
        "pose-val_check_interval-over-the-epoch",
        lambda t: run("fit", "pose", t, "--trainer.val_check_interval=1000"),
        r"trainer\.val_check_interval.*1000",
    ),
    Case(
        "detection-limit_val_batches-negative",
        lambda t: run("fit", "detection", t, "--trainer.limit_val_batches=-1"),
        r"trainer\.limit_val_batches",
    ),
    Case(
        "classification-gradient_clip_val-negative",
        lambda t: run("fit", "classification", t, "--trainer.gradient_clip_val=-1"),
        r"trainer\.gradient_clip_val.*-1",
    ),
    Case(
        "pose-check_val_every_n_epoch-zero",
        lambda t: run("fit", "pose", t, "--trainer.check_val_every_n_epoch=0"),
        r"trainer\.check_val_every_n_epoch",
    ),
    Case(
        "detection-log_every_n_steps-negative",
        lambda t: run("fit", "detection", t, "--trainer.log_every_n_steps=-1"),
        r"trainer\.log_every_n_steps",
    ),
    Case(
        "classification-max_time-not-a-duration",
        lambda t: run("fit", "classification", t, "--trainer.max_time=abc"),
        r"trainer\.max_time.*abc",
    ),
    # -- checkpoints ----------------------------------------------------------------------------------
    Case(
        "pose-checkpoint-every_n_epochs-negative",
        lambda t: run("fit", "pose", t, "--checkpoint.every_n_epochs=-1"),
        r"checkpoint\.every_n_epochs.*-1",
    ),
    Case(
        "detection-checkpoint-filename-a-path",
        lambda t: run("fit", "detection", t, "--checkpoint.filename=../../best"),
        r"checkpoint\.filename.*\.\./\.\./best",
    ),
    Case(
        "pose-checkpoint-monitor-not-logged",
        lambda t: run("fit", "pose", t, "--checkpoint.monitor=val/APP"),
        r"checkpoint\.monitor.*val/APP",
    ),
    Case(
        "classification-checkpoint-monitor-of-another-task",
        lambda t: run("fit", "classification", t, "--checkpoint.monitor=val/mIoU"),
        r"checkpoint\.monitor.*val/mIoU",
    ),
    Case(
        "classification-checkpoint-mode-unknown",
        lambda t: run("fit", "classification", t, "--checkpoint.mode=maxx"),
        r"checkpoint\.mode.*maxx|maxx.*checkpoint\.mode",
    ),
    Case(
        "detection-checkpoint-save_top_k-negative",
        lambda t: run("fit", "detection", t, "--checkpoint.save_top_k=-2"),
        r"checkpoint\.save_top_k.*-2",
    ),
    Case(
        "classification-checkpoint-dirpath-of-another-run",
        lambda t: run("fit", "classification", t, f"--checkpoint.dirpath={earlier_run(t)}"),
        r"checkpoint\.dirpath.*runs/version_0/checkpoints",
    ),
    Case(
        "pose-last_checkpoint-dirpath-of-another-run",
        lambda t: run("fit", "pose", t, f"--last_checkpoint.dirpath={earlier_run(t)}"),
        r"last_checkpoint\.dirpath.*runs/version_0/checkpoints",
    ),
    Case(
        "detection-checkpoint-dirpath-a-file",
        lambda t: run("fit", "detection", t, f"--checkpoint.dirpath={a_file(t)}"),
        r"checkpoint\.dirpath.*file\.txt",
    ),
    # -- output folders -------------------------------------------------------------------------------
    Case(
        "pose-log-folder-read-only",
        lambda t: [*run("fit", "pose", t), f"--trainer.logger.init_args.save_dir={unwritable(t)}"],
        r"trainer\.logger.*save_dir.*read-only",
    ),
    Case(
        "classification-log-folder-under-a-file",
        lambda t: [*run("fit", "classification", t), f"--trainer.logger.init_args.save_dir={a_file(t)}/logs"],
        r"save_dir.*file\.txt",
    ),
    Case(
        "detection-default_root_dir-read-only",
        lambda t: [*run("fit", "detection", t), f"--trainer.default_root_dir={unwritable(t)}"],
        r"trainer\.default_root_dir.*read-only",
    ),
    Case(
        "pose-predict-output_dir-a-file",
        lambda t: run("predict", "pose", t, f"--predict_writer.output_dir={a_file(t)}"),
        r"predict_writer\.output_dir.*file\.txt",
    ),
    Case(
        "classification-predict-output_dir-read-only",
        lambda t: run("predict", "classification", t, f"--predict_writer.output_dir={unwritable(t)}"),
        r"predict_writer\.output_dir.*read-only",
    ),
    Case(
        "export-output-a-folder",
        lambda t: ["export", "--task=pose", "--preset=w18_small_v1", "--width=8", f"--output={t}"],
        r"--output.*is a folder",
    ),
    Case(
        "export-output-read-only",
        lambda t: ["export", "--preset=w18_small_v1", "--width=8", f"--output={unwritable(t)}/net.onnx"],
        r"--output.*read-only",
    ),
    Case(
        "export-output-under-a-file",
        lambda t: ["export", "--preset=w18_small_v1", "--width=8", f"--output={a_file(t)}/net.onnx"],
        r"--output.*file\.txt",
    ),
    Case(
        "sweep-output-a-file",
        lambda t: ["sweep", str(sweep_file(t)), f"--output={a_file(t)}", "--count=1"],
        r"--output.*file\.txt",
    ),
    Case(
        "pose-predict_writer-alpha-over-one",
        lambda t: run("predict", "pose", t, "--predict_writer.alpha=2"),
        r"predict_writer\.alpha.*2",
    ),
    # -- what the data decides ------------------------------------------------------------------------
    Case(
        "pose-codec-sigma-negative-through-the-link",
        lambda t: run("fit", "pose", t, "--model.codec.sigma=-1"),
        r"^hrnet-lit fit: error: model\.codec\.sigma must be > 0, got -1\.0$",
    ),
    Case(
        "pose-num_joints-contradicts-the-data",
        lambda t: run("fit", "pose", t, "--model.num_joints=17"),
        r"model\.num_joints.*17.*13|model\.num_joints.*13.*17",
    ),
    Case(
        "classification-num_classes-contradicts-the-data",
        lambda t: run("validate", "classification", t, "--model.num_classes=5"),
        r"model\.num_classes.*5.*10|model\.num_classes.*10.*5",
    ),
    Case(
        "detection-num_classes-contradicts-the-data",
        lambda t: run("fit", "detection", t, "--model.num_classes=80"),
        r"model\.num_classes.*80",
    ),
    # -- sweeps ---------------------------------------------------------------------------------------
    Case("sweep-metric-never-logged", lambda t: sweep(t, sweep_file(t, metric="val/APP")), r"val/APP"),
    Case(
        "sweep-metric-of-another-task",
        lambda t: sweep(t, sweep_file(t, task="classification", metric="val/mIoU")),
        r"val/mIoU.*ClassificationTask",
    ),
    Case(
        "sweep-run-rejected",
        lambda t: sweep(t, sweep_file(t, parameters={"model.optimizer": {"values": ["adam", "adamz"]}})),
        r"model\.optimizer.*adamz",
    ),
    Case(
        "sweep-run-bad-trainer-flag",
        lambda t: sweep(t, sweep_file(t), "--extra=[--trainer.max_epochs=-5]"),
        r"trainer\.max_epochs",
    ),
    # -- tools ----------------------------------------------------------------------------------------
    Case(
        "bench-pose-quickstart-size-timm-cannot-run",
        lambda t: ["bench", "--config", CONFIGS["pose"], "--repeats=1", "--warmup=0"],
        r"96x72|\[96, ?72\]",
    ),
    Case(
        "summary-input_size-zero",
        lambda t: ["summary", "--config", CONFIGS["pose"], "--input_size=[0,48]"],
        r"input_size",
    ),
    Case(
        "export-input_size-zero",
        lambda t: [
            "export",
            "--preset=w18_small_v1",
            "--width=8",
            "--input_size=[0,32]",
            f"--output={t}/a.onnx",
        ],
        r"input_size",
    ),
    Case(
        "export-config-bad-optimizer",
        lambda t: ["export", "--config", CONFIGS["pose"], "--model.lr=-1", f"--output={t}/a.onnx"],
        r"model\.lr",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_flag_is_a_clear_error(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message, cli = refusal(case, tmp_path, capsys)
    if cli:
        assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()], "the failed command wrote files"
        assert not list(tmp_path.rglob("*.onnx")), "the failed export wrote a model"
        for last in tmp_path.rglob("runs/*/checkpoints/last.ckpt"):
            assert last.read_bytes() == b"the earlier run's checkpoint"
    assert re.search(case.names, message, re.DOTALL | re.MULTILINE), message
