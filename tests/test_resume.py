"""A real `hrnet-lit fit` killed in the middle (SIGTERM, SIGKILL) and resumed from `last.ckpt` ends
bit-identical to the uninterrupted run of the same seed: weights, optimizer and LR schedule, metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import SEGMENTATION_FIT, metric_rows
from lightning.pytorch import Callback, Trainer

from hrnet_lit.cli import main

pytestmark = pytest.mark.slow

ENTRY = Path(sys.executable).with_name("hrnet-lit")
STEPS_PER_EPOCH, EPOCHS = 4, 2
DROPPED = ("--trainer.max_steps", "--data.num_train", "--data.num_val", "--trainer.limit_val_batches")
ARGS = [a for a in SEGMENTATION_FIT if not a.startswith(DROPPED)] + [
    f"--data.num_train={4 * STEPS_PER_EPOCH}",
    "--data.num_val=8",  # two validation batches
    f"--trainer.max_epochs={EPOCHS}",
    "--trainer.deterministic=true",
    "--trainer.callbacks+=LearningRateMonitor",
    "--trainer.callbacks.logging_interval=step",
    "--last_checkpoint.every_n_train_steps=1",
]


def command(save_dir: Path, *extra: str) -> list[str]:
    return [str(ENTRY), "fit", *ARGS, f"--trainer.logger.init_args.save_dir={save_dir}", *extra]


def fit(save_dir: Path, *extra: str) -> Path:
    """Run `hrnet-lit fit` to its end; return the run folder."""
    result = subprocess.run(command(save_dir, *extra), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_folder(save_dir)


def run_folder(save_dir: Path) -> Path:
    (run,) = (save_dir / "lightning_logs").iterdir()
    return run


def saved_step(path: Path) -> int:
    try:
        return torch.load(path, weights_only=False, map_location="cpu")["global_step"]
    except FileNotFoundError:
        return -1


def kill_after(save_dir: Path, step: int, sig: signal.Signals, *extra: str) -> tuple[Path, int]:
    """Start a fit, freeze it as soon as its `last.ckpt` has reached `step`, then send `sig`.

    Returns the run folder and the exit status. Reading `last.ckpt` while the run rewrites it every
    step is itself a check: an atomic write never shows a half-written file.
    """
    paced = [*command(save_dir, *extra), "--trainer.callbacks+=pacer.Pace"]  # no race past an epoch end
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(paced, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    last = save_dir / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while saved_step(last) < step:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGSTOP)
    assert saved_step(last) < STEPS_PER_EPOCH * EPOCHS, "the run ended before it could be killed"
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    proc.communicate(timeout=300)
    return run_folder(save_dir), proc.returncode


def state(run: Path) -> dict[str, Any]:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")


def final_val(run: Path) -> dict[str, str]:
    last = [r for r in metric_rows(run) if r.get("val/mIoU")][-1]
    return {k: v for k, v in last.items() if k.startswith("val/") or k in ("epoch", "step")}


def lrs(run: Path) -> dict[str, str]:
    return {r["step"]: r["lr-SGD"] for r in metric_rows(run) if r.get("lr-SGD")}


def assert_same_state(resumed: dict[str, Any], straight: dict[str, Any]) -> None:
    assert (resumed["epoch"], resumed["global_step"]) == (straight["epoch"], straight["global_step"])
    assert straight["global_step"] == STEPS_PER_EPOCH * EPOCHS
    weights, reference = resumed["state_dict"], straight["state_dict"]
    assert weights.keys() == reference.keys()
    different = [k for k in weights if not torch.equal(weights[k], reference[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    (momentum,), (reference_momentum,) = resumed["optimizer_states"], straight["optimizer_states"]
    assert momentum["state"] and momentum["state"].keys() == reference_momentum["state"].keys()
    for k, buffers in momentum["state"].items():
        assert torch.equal(buffers["momentum_buffer"], reference_momentum["state"][k]["momentum_buffer"])
    assert resumed["lr_schedulers"] == straight["lr_schedulers"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run."""
    return fit(tmp_path_factory.mktemp("straight"))


@pytest.mark.parametrize(
    ("sig", "step", "workers"),
    [
        (signal.SIGTERM, 2, 0),  # stops after its running step, in epoch 0, and saves that state
        (signal.SIGKILL, 5, 2),  # dies in epoch 1; resumed with 2 loader workers instead of none
    ],
    ids=["sigterm", "sigkill"],
)
def test_killed_run_resumes_bit_exact(
    tmp_path: Path, straight: Path, sig: signal.Signals, step: int, workers: int
) -> None:
    killed, status = kill_after(tmp_path / "killed", step, sig)
    assert status == (128 + signal.SIGTERM if sig == signal.SIGTERM else -signal.SIGKILL)
    last = killed / "checkpoints" / "last.ckpt"
    interrupted = torch.load(last, weights_only=False)
    assert step <= interrupted["global_step"] < STEPS_PER_EPOCH * EPOCHS
    assert interrupted["global_step"] % STEPS_PER_EPOCH, "expected a mid-epoch state"

    resumed = fit(tmp_path / "resumed", f"--ckpt_path={last}", f"--data.num_workers={workers}")
    assert_same_state(state(resumed), state(straight))
    assert final_val(resumed) == final_val(straight)
    after = lrs(resumed)
    assert after and after == {k: v for k, v in lrs(straight).items() if k in after}
    assert min(int(k) for k in after) == interrupted["global_step"]  # the schedule went on, not restarted


def test_resume_from_an_epoch_end_checkpoint(tmp_path: Path, straight: Path) -> None:
    """The best checkpoint of epoch 0 (saved at the epoch end) resumes into the same epoch 1."""
    best = straight / "checkpoints" / "best-epoch000.ckpt"
    assert torch.load(best, weights_only=False)["global_step"] == STEPS_PER_EPOCH
    resumed = fit(tmp_path, f"--ckpt_path={best}")
    assert_same_state(state(resumed), state(straight))
    assert final_val(resumed) == final_val(straight)
    assert set(lrs(resumed)) == {str(s) for s in range(STEPS_PER_EPOCH, STEPS_PER_EPOCH * EPOCHS)}


class TermDuringValidation(Callback):
    """Sends this process SIGTERM while the first validation of the fit is half done."""

    def on_validation_batch_end(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        first_batch = trainer.fit_loop.epoch_loop.val_loop.batch_progress.current.completed == 0
        if not trainer.sanity_checking and trainer.current_epoch == 0 and first_batch:
            os.kill(os.getpid(), signal.SIGTERM)


def val_rows(run: Path) -> list[dict[str, str]]:
    return [
        {k: v for k, v in r.items() if k.startswith("val/")} for r in metric_rows(run) if r.get("val/mIoU")
    ]


def test_sigterm_during_validation_stops_when_it_ends(tmp_path: Path, straight: Path) -> None:
    """The validation finishes (its metrics need every batch), then the run saves and stops."""
    save_dir = tmp_path / "killed"
    callback = f"--trainer.callbacks+={__name__}.TermDuringValidation"
    with pytest.raises(SystemExit) as stopped:
        main(["fit", *ARGS, f"--trainer.logger.init_args.save_dir={save_dir}", callback])
    assert stopped.value.code == 128 + signal.SIGTERM
    killed = run_folder(save_dir)
    assert val_rows(killed) == val_rows(straight)[:1]  # epoch 0's validation, over both batches
    last = killed / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == STEPS_PER_EPOCH

    resumed = fit(tmp_path / "resumed", f"--ckpt_path={last}")
    assert_same_state(state(resumed), state(straight))
    assert final_val(resumed) == final_val(straight)


def test_overfit_batches_still_trains(tmp_path: Path) -> None:
    """Lightning swaps an overfit run's sampler for its own, which the resumable loader cannot take."""
    main(
        [
            "fit",
            *SEGMENTATION_FIT,
            "--trainer.overfit_batches=1",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
        ]
    )
    assert (
        torch.load(run_folder(tmp_path) / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2
    )
