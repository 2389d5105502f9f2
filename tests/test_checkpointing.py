"""`last.ckpt` holds the latest state whatever the metric does, at the asked step/time intervals, and
checkpoint files are replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from hrnet_lit.callbacks.checkpointing import AtomicCheckpointIO, LastCheckpoint
from hrnet_lit.cli import main
from hrnet_lit.cli.app import lightning_cli


def two_epochs(tiny_fit: list[str]) -> list[str]:
    """Two epochs of 2 steps each."""
    return [a for a in tiny_fit if not a.startswith("--trainer.max_steps")] + ["--trainer.max_epochs=2"]


def run_folder(save_dir: Path) -> Path:
    (run,) = (save_dir / "lightning_logs").iterdir()
    return run


@pytest.mark.slow
def test_last_holds_the_last_epoch_when_it_is_not_a_new_best(tmp_path: Path, tiny_fit: list[str]) -> None:
    """Monitoring `epoch` in min mode makes epoch 1 never a new best: Lightning's own `save_last` then
    left epoch 0 in `last.ckpt`."""
    main(
        [
            "fit",
            *two_epochs(tiny_fit),
            "--checkpoint.monitor=epoch",
            "--checkpoint.mode=min",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
        ]
    )
    checkpoints = run_folder(tmp_path) / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best-epoch000.ckpt", "last.ckpt"]
    best, last = (
        torch.load(checkpoints / n, weights_only=False) for n in ("best-epoch000.ckpt", "last.ckpt")
    )
    assert (best["epoch"], best["global_step"]) == (0, 2)
    assert (last["epoch"], last["global_step"]) == (1, 4)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flag", "saved_at"),
    [
        ("--last_checkpoint.every_n_train_steps=3", [2, 3, 4]),  # epoch ends (2, 4) and step 3
        ("--last_checkpoint.train_time_interval=0:0:0.000001", [1, 2, 2, 3, 4, 4]),  # every step too
    ],
    ids=["steps", "time"],
)
def test_last_is_also_saved_at_the_asked_interval(
    tmp_path: Path, tiny_fit: list[str], monkeypatch: pytest.MonkeyPatch, flag: str, saved_at: list[int]
) -> None:
    steps: list[int] = []
    save_latest = LastCheckpoint.save_latest

    def record(self: LastCheckpoint, trainer: object) -> None:
        steps.append(trainer.global_step)
        save_latest(self, trainer)

    monkeypatch.setattr(LastCheckpoint, "save_latest", record)
    main(["fit", *two_epochs(tiny_fit), flag, f"--trainer.logger.init_args.save_dir={tmp_path}"])
    assert steps == saved_at


def test_the_cli_writes_checkpoints_atomically(tiny_fit: list[str]) -> None:
    cli = lightning_cli(tiny_fit, run=False)
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    (last,) = [c for c in cli.trainer.callbacks if isinstance(c, LastCheckpoint)]
    assert cli.trainer.checkpoint_callback is not last  # the best checkpoint stays separate


class Unpicklable:
    def __reduce__(self) -> tuple:
        raise RuntimeError("disk full")


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"weights": torch.arange(1000), "step": 1}, path)
    with pytest.raises(RuntimeError, match="disk full"):  # fails while the new file is written
        io.save_checkpoint({"weights": torch.zeros(100_000), "later": Unpicklable()}, path)
    kept = io.load_checkpoint(path, weights_only=True)
    assert kept["step"] == 1 and torch.equal(kept["weights"], torch.arange(1000))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_a_save_replaces_the_file_only_when_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new checkpoint reaches the target name through one `os.replace` of a synced sibling file."""
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, path)
    replaced: list[tuple[Path, Path, int]] = []
    replace = os.replace

    def spy(source: Path, target: Path) -> None:
        replaced.append((Path(source), Path(target), torch.load(source, weights_only=True)["step"]))
        assert torch.load(target, weights_only=True)["step"] == 1  # the old file is untouched until now
        replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    AtomicCheckpointIO().save_checkpoint({"step": 2}, path)
    ((source, target, step),) = replaced
    assert source.parent == target.parent and target == path and step == 2
    assert torch.load(path, weights_only=True)["step"] == 2


@pytest.mark.slow
def test_a_run_without_logger_resumes_and_a_fresh_one_there_is_refused(
    tmp_path: Path, tiny_fit: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a logger every run shares `default_root_dir`. Lightning refused to resume such a run
    (its config.yaml was there); a resume now replaces it, and a second fresh fit, which would
    overwrite the first one's checkpoints, is refused."""
    args = [*tiny_fit, "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}"]
    main(["fit", *args])
    last = tmp_path / "checkpoints" / "last.ckpt"
    first = last.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args])
    message = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"--ckpt_path={last}" in message, message
    assert "Traceback" not in message and last.read_bytes() == first
    main(["fit", *args, "--trainer.max_steps=4", f"--ckpt_path={last}"])
    assert torch.load(last, weights_only=False)["global_step"] == 4
    assert "max_steps: 4" in (tmp_path / "config.yaml").read_text()
    for _ in range(2):  # evaluations save no config there, so they never collide
        main(["validate", *args, f"--ckpt_path={last}"])
