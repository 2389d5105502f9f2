"""A non-finite loss stops the run (or skips the step), and no checkpoint ever holds a non-finite model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import SEGMENTATION_FIT, metric_rows

from hrnet_lit.cli import main
from hrnet_lit.common.task import NonFiniteError
from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.segmentation import SegmentationTask
from hrnet_lit.segmentation.loss import SegmentationLoss

EPOCHS = [a for a in SEGMENTATION_FIT if not a.startswith("--trainer.max_steps")] + ["--trainer.max_epochs=3"]


def tiny_task(**kwargs: object) -> SegmentationTask:
    return SegmentationTask(backbone=BackboneConfig(preset="w18_small_v1", width=4), num_classes=3, **kwargs)


def nonfinite_tensors(path: Path) -> list[str]:
    checkpoint = torch.load(path, weights_only=True)
    tensors = dict(checkpoint["state_dict"])
    for k, state in enumerate(checkpoint.get("optimizer_states", [])):
        for param, values in state["state"].items():
            tensors |= {f"optimizer{k}.{param}.{n}": v for n, v in values.items() if torch.is_tensor(v)}
    return [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]


def fit_skipping(tmp_path: Path, *args: str) -> tuple[Path, list[dict[str, str]]]:
    """A `--model.nonfinite_loss=skip` fit: its run folder and the rows of its metrics.csv."""
    main(["fit", *args, "--model.nonfinite_loss=skip", f"--trainer.logger.init_args.save_dir={tmp_path}"])
    (run,) = tmp_path.glob("lightning_logs/*")
    return run, metric_rows(run)


@pytest.mark.slow
def test_a_diverging_run_stops_naming_the_step_and_keeps_only_finite_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *EPOCHS, "--model.lr=1e6", f"--trainer.logger.init_args.save_dir={tmp_path}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "hrnet-lit fit: error: the training loss is nan at step " in err and "Traceback" not in err
    step = int(err.split("at step ")[1].split()[0])
    assert step > 0, "the first steps were finite"
    saved = list(tmp_path.glob("lightning_logs/*/checkpoints/*.ckpt"))
    assert any(p.name == "last.ckpt" for p in saved), "the last finite state is kept"
    for path in saved:
        assert nonfinite_tensors(path) == [], path.name
        assert torch.load(path, weights_only=True)["global_step"] <= step


@pytest.mark.slow
def test_the_skip_switch_finishes_the_diverging_run_with_finite_checkpoints(tmp_path: Path) -> None:
    run, rows = fit_skipping(tmp_path, *EPOCHS, "--model.lr=1e6")
    assert max(float(r["train/nonfinite_skipped"]) for r in rows if r["train/nonfinite_skipped"]) >= 1
    assert max(int(r["epoch"]) for r in rows) == 2, "all three epochs ran"
    for path in run.glob("checkpoints/*.ckpt"):
        assert nonfinite_tensors(path) == [], path.name


@pytest.mark.slow
def test_the_skip_switch_skips_a_nonfinite_step_and_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = SegmentationLoss.forward

    def nan_on_the_second_step(
        self: SegmentationLoss, logits: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        calls["n"] += 1
        loss = real(self, logits, target)
        return loss * float("nan") if calls["n"] == 2 else loss

    monkeypatch.setattr(SegmentationLoss, "forward", nan_on_the_second_step)
    run, rows = fit_skipping(tmp_path, *SEGMENTATION_FIT, "--trainer.max_steps=3")
    skipped = [float(r["train/nonfinite_skipped"]) for r in rows if r["train/nonfinite_skipped"]]
    assert skipped[-1] == 1.0
    assert nonfinite_tensors(run / "checkpoints" / "last.ckpt") == []


def test_a_skipped_step_leaves_parameters_and_buffers_as_they_were() -> None:
    task = tiny_task(nonfinite_loss="skip").train()
    before = {k: v.clone() for k, v in task.state_dict().items()}
    task.on_train_batch_start(None, 0)
    loss = task(torch.randn(2, 3, 32, 32)).sum()  # moves the BN running statistics
    assert any(not torch.equal(before[k], v) for k, v in task.state_dict().items())
    with pytest.warns(UserWarning, match=r"skipped step 0 \(epoch 0\): the training loss is nan"):
        assert task.finite_loss(loss * float("nan")) is None
    assert all(torch.equal(before[k], v) for k, v in task.state_dict().items())
    assert task.nonfinite_skipped == 1


def test_stop_names_the_step_and_the_loss() -> None:
    task = tiny_task()
    with pytest.raises(NonFiniteError, match=r"the training loss is inf at step 0 \(epoch 0\): stopped"):
        task.finite_loss(torch.tensor(float("inf")))
    assert task.finite_loss(torch.tensor(1.5)).item() == 1.5


def test_skipping_stops_once_the_parameters_are_nonfinite() -> None:
    task = tiny_task(nonfinite_loss="skip")
    task.on_train_batch_start(None, 0)
    with torch.no_grad():
        task.net.backbone.conv1.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="net.backbone.conv1.weight is already non-finite"):
        task.finite_loss(torch.tensor(float("nan")))


def test_a_nonfinite_model_is_never_saved() -> None:
    task = tiny_task()
    task.on_save_checkpoint({"state_dict": task.state_dict()})  # finite: accepted
    with torch.no_grad():
        task.net.backbone.bn1.running_var[0] = float("inf")
    with pytest.raises(NonFiniteError, match="refused to save a checkpoint .* net.backbone.bn1.running_var"):
        task.on_save_checkpoint({"state_dict": task.state_dict()})


def test_an_unknown_switch_value_names_the_knob() -> None:
    with pytest.raises(InputError, match="model.nonfinite_loss='ignore'"):
        tiny_task(nonfinite_loss="ignore")


def test_a_batch_of_only_ignored_pixels_has_loss_zero_not_nan() -> None:
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    loss = SegmentationLoss(ignore_index=255)(logits, torch.full((2, 8, 8), 255))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
