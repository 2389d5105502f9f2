"""What every HRNet task shares: the contract the CLI and the tools build on, optimizer and LR
schedule from timm set by flat typed knobs, pretrained backbones, and what a non-finite loss or model
does to a run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from timm.optim import create_optimizer_v2
from timm.scheduler import MultiStepLRScheduler, create_scheduler_v2
from timm.scheduler.scheduler import Scheduler
from torch import nn

from hrnet_lit.common.contracts import DataContract, TaskData
from hrnet_lit.common.normalize import normalize_batch
from hrnet_lit.common.optim_knobs import check_optimizer_knobs
from hrnet_lit.errors import InputError
from hrnet_lit.models import load_pretrained
from hrnet_lit.models.sync_norm import use_native_sync_batchnorm

NonFiniteLoss = Literal["stop", "skip"]
TRAIN_METRICS = ("train/loss", "train/nonfinite_skipped")  # what every task's training step logs


class NonFiniteError(InputError):
    """Training produced a non-finite loss or model: the settings (most often the learning rate)
    diverge; the run stops, and the last checkpoint written stays the last finite state."""


class HRNetTask(pl.LightningModule):
    """The shape every task has, so that one CLI and one set of tools serve them all:

    - `build_network(**arch)` builds the network (`self.net`) from the `architecture` arguments alone,
      without Lightning: `summary`, `export` and `bench` call it on a config's arguments;
    - `contract` says what the task needs from its data module (`hrnet_lit.common.contracts`): its
      `task_args` (classes, joints, their names, ...) fill the `data_args` init arguments, so that what
      the data knows is never typed twice (see `hrnet_lit.cli.app`), and what the task reads
      while it runs (`self.data`) is checked at `setup`, before the first step;
    - `monitor` is the validation metric that picks the best checkpoint (`monitor_mode`: `max` when
      higher is better, `min` for an error such as a landmark NME);
    - `default_data` is the data module a config that names none trains on, and `kind` the task that
      data modules name (their own `kind`), so that data of another task is refused by name;
    - `write_predictions` / `finish_predictions` write what `predict` returns (the prediction writer
      calls them), so each task writes its own kind of result;
    - `normalize_inputs` turns a batch as the loaders hand it over (``uint8`` images) into what the
      network takes, on the device, after every transfer (Lightning's `on_after_batch_transfer`).

    Optimizer (timm `create_optimizer_v2`), per-step LR schedule (timm `create_scheduler_v2`), and
    the guard against non-finite training: a task's `training_step` returns `self.finite_loss(loss)`,
    and no checkpoint with a non-finite parameter or buffer is ever written.

    The defaults are the official Cityscapes recipe: SGD, momentum 0.9, weight decay 5e-4 on every
    parameter, lr 0.01 with poly decay (power 0.9) over all training steps.

    Args:
        optimizer: a timm optimizer name (`sgd`, `adamw`, `lamb`, ...).
        lr: peak learning rate.
        momentum: SGD momentum (ignored by optimizers without one).
        weight_decay: applied to every parameter, as the official recipe does.
        pretrained: backbone weights that start a new fit: a local timm / official checkpoint or a
            `hrnet-lit fit` checkpoint (nothing is downloaded). A resumed run brings its own.
        scheduler: a timm scheduler name (`poly`, `cosine`, `step`, ...), stepped every update.
        poly_power: exponent of the poly decay (timm's `decay_rate`).
        warmup_epochs: linear warm-up length.
        min_lr: floor of the decayed learning rate.
        nonfinite_loss: on a nan / inf training loss, `stop` the run with an error naming the step
            and the loss, or `skip` the step (no backward, no update; counted as
            `train/nonfinite_skipped`; one process only).
        decay_milestones: epochs at which `multistep` multiplies the lr by `decay_rate` (the official
            pose and classification recipes). The schedule is stepped every update, and timm counts
            the milestones in updates of whole epochs, so the lr changes at the first update of each
            milestone epoch, as a per-epoch MultiStepLR.
        decay_rate: factor of `step` / `multistep` decays (`poly` uses `poly_power`).
        channels_last: run the network in channels_last memory format.
        compile: `torch.compile` the network (state dict keys unchanged).
    """

    architecture: ClassVar[tuple[str, ...]] = ("backbone", "head", "num_classes")
    """Init arguments that decide the network's parameters or the function they compute. Over
    `--ckpt_path` they come from the checkpoint, and a config or flag that contradicts it is refused;
    every other argument (evaluation scales, flip, window, channels_last, compile, loss, optimizer
    and schedule) can change when evaluating or resuming, and the config and flags win."""

    output_arg: ClassVar[str] = "num_classes"
    """The init argument that sizes the output space (classes; a pose task's joints), which the tools'
    `--num_classes` flag sets for every task."""

    contract: ClassVar[DataContract[TaskData]] = DataContract(TaskData)
    """What the task needs from its data module, checked at `setup`."""
    data_args: ClassVar[tuple[str, ...]] = contract.task_args
    """Init arguments that the data module's `task_args` fill (the user never types them): a
    subclass sets `data_args = contract.task_args`."""
    kind: ClassVar[str] = ""
    """What the task does (`segmentation`, `pose`, ...); a data module with a `kind` must say the same."""
    monitor: ClassVar[str] = "val/loss"
    monitor_mode: ClassVar[Literal["max", "min"]] = "max"
    metrics: ClassVar[tuple[str, ...] | None] = None
    """The metrics a fit logs (`fnmatch` patterns, for per-class names; `TRAIN_METRICS` and the task's
    own): `--checkpoint.monitor` and a sweep's `metric` must name one of them, since a run cannot tell
    a name it never logs from one it has not logged yet. None (a task that does not say) checks none."""
    default_data: ClassVar[str] = ""
    net: nn.Module

    def __init__(
        self,
        pretrained: str | None = None,
        optimizer: str = "sgd",
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        scheduler: str = "poly",
        poly_power: float = 0.9,
        warmup_epochs: int = 0,
        min_lr: float = 0.0,
        nonfinite_loss: NonFiniteLoss = "stop",
        decay_milestones: list[int] | None = None,
        decay_rate: float = 0.1,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if nonfinite_loss not in get_args(NonFiniteLoss):
            raise InputError(
                f"model.nonfinite_loss={nonfinite_loss!r}: choose one of {get_args(NonFiniteLoss)}"
            )
        check_optimizer_knobs(
            optimizer, scheduler, lr, momentum, weight_decay, poly_power, warmup_epochs, min_lr,
            decay_milestones, decay_rate,
        )  # fmt: skip
        self.nonfinite_loss = nonfinite_loss
        self.pretrained = pretrained
        self.channels_last = channels_last
        self.compile_net = compile
        self.nonfinite_skipped = 0
        self._buffers_before: dict[str, torch.Tensor] = {}
        self.optim_args = {"opt": optimizer, "lr": lr, "momentum": momentum, "weight_decay": weight_decay}
        self.sched_args = {
            "sched": scheduler,
            "decay_rate": poly_power if scheduler == "poly" else decay_rate,
            "warmup_epochs": warmup_epochs,
            "min_lr": min_lr,
        }
        if decay_milestones is not None:
            self.sched_args["decay_milestones"] = list(decay_milestones)

    @classmethod
    def data_links(cls) -> dict[str, tuple[tuple[str, ...], Callable[..., Any]]]:
        """Data module arguments that the task's own arguments set, linked by the CLI at parse time
        (the other way round from `data_args`): data key -> (the task's argument names, the function
        of their parsed values). The user sets them on the task only, so the two cannot disagree."""
        return {}

    @classmethod
    def build_network(cls, **arch: Any) -> nn.Module:
        """The task's network from its `architecture` init arguments: the one builder of it, which
        `__init__` and the tools call alike (its defaults are `__init__`'s, not written twice)."""
        raise NotImplementedError(f"{cls.__qualname__} does not define build_network")

    def write_predictions(self, prediction: Any, folder: Path, writer: Any) -> None:
        """Write one predict batch (what `predict_step` returned) under `folder`; `writer` is the
        prediction writer callback, which carries the user's output options."""
        raise NotImplementedError(f"{type(self).__qualname__} does not write predictions")

    def finish_predictions(self, folder: Path) -> None:
        """After the last predict batch: write what covers every image (a results json, a csv)."""

    def validation_panels(self, batch: Any, count: int) -> list[np.ndarray]:
        """Up to `count` (H, W, 3) uint8 panels `input | ground truth | prediction` of a validation
        batch, for the W&B image log (`hrnet_lit.callbacks.wandb_media.ValidationImages`)."""
        raise NotImplementedError(f"{type(self).__qualname__} draws no validation panels")

    def normalize_inputs(self, batch: Any) -> Any:
        """The batch on its device, images ready for the network. Loaders hand ``uint8`` (N, 3, H, W)
        images to the device (a quarter of the bytes of float32, and no float work on their cores);
        here they become ImageNet-normalised float32 (`normalize_batch`). The default normalises
        the batch itself, or its first item (`(images, targets, ...)` tuples); a float batch (an
        already normalised loader) passes unchanged. A task whose batch has another shape, or whose
        targets need a device-side step too (a mask cast to ``int64``), overrides it."""
        if isinstance(batch, torch.Tensor):
            return _normalized(batch)
        if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
            return type(batch)([_normalized(batch[0]), *batch[1:]])
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return self.normalize_inputs(batch)

    def pretrained_target(self) -> nn.Module:
        """What `pretrained` weights go into: the network (its `.backbone`, and a matching head)."""
        return self.net

    @property
    def data(self) -> TaskData:
        """The trainer's data module, checked against `contract` (a subclass narrows the type to its
        contract's `reads`); an `InputError` names what it lacks."""
        return self.contract.of(self.trainer.datamodule, type(self).__qualname__)

    def setup(self, stage: str) -> None:
        """The data module is checked before anything runs on it. Pretrained weights start a new fit
        (the backbone, and a head that fits), or are evaluated (`validate`, `test`, `predict`: the
        whole network must be in them); a resumed run or a checkpoint brings its own."""
        self.contract.of(self.trainer.datamodule, type(self).__qualname__)
        if self.pretrained and self.trainer.ckpt_path is None:
            whole = stage != "fit"
            target = self.pretrained_target()
            if whole and target is not self.net:
                raise InputError(
                    f"model.pretrained: {type(self).__qualname__} takes only its backbone from pretrained "
                    f"weights, so {stage} would run untrained task layers; give a trained checkpoint "
                    "with --ckpt_path (docs/model_zoo.md)"
                )
            try:
                report = load_pretrained(target, self.pretrained, complete=whole)
            except InputError as error:
                raise type(error)(f"model.pretrained: {error}") from None
            rank_zero_info(f"model.pretrained: {report}")

    def configure_model(self) -> None:
        """`norm: sync_batch` becomes torch's own SyncBatchNorm unless the process group is gloo (see
        `hrnet_lit.models.sync_norm`): here the group exists, and DDP and the optimizer come later."""
        use_native_sync_batchnorm(self)
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if self.compile_net:
            self.net.compile()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """The network's output for a batch of images (logits, heatmaps or class scores)."""
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.net(image)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = create_optimizer_v2(self, filter_bias_and_bn=False, **self.optim_args)
        epochs = max(self.trainer.max_epochs or 1, 1)
        steps = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler, _ = create_scheduler_v2(
            optimizer,
            num_epochs=epochs,
            step_on_epochs=False,
            updates_per_epoch=max(steps // epochs, 1),
            **self.sched_args,
        )
        if isinstance(scheduler, MultiStepLRScheduler):
            # timm decays once update t + 1 reaches a milestone; one later, each milestone epoch's
            # first update is the first at the lower lr, as with a per-epoch MultiStepLR.
            scheduler.decay_t = [t + 1 for t in scheduler.decay_t]
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def lr_scheduler_step(self, scheduler: Scheduler, metric: Any) -> None:
        """timm schedulers are stepped by update count, not by `step()` alone."""
        scheduler.step_update(num_updates=self.global_step)

    def on_fit_start(self) -> None:
        if self.nonfinite_loss == "skip" and self.trainer.world_size > 1:
            raise InputError(
                "model.nonfinite_loss=skip works in one process only (Lightning cannot skip a step in DDP)"
            )

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """With `skip`, keep the buffers: the forward of a skipped step already moved BN statistics."""
        if self.nonfinite_loss == "skip":
            self._buffers_before = {name: b.detach().clone() for name, b in self.named_buffers()}

    def finite_loss(self, loss: torch.Tensor) -> torch.Tensor | None:
        """`loss` when finite. Otherwise stop the run (`nonfinite_loss=stop`), or (`skip`) put the
        buffers back and return None, so that Lightning skips backward and the update: the model
        stays as it was before the step. Skipping cannot help once the parameters themselves are
        non-finite, so that stops the run too."""
        if bool(torch.isfinite(loss.detach()).all()):
            if self.nonfinite_loss == "skip":
                self.log("train/nonfinite_skipped", float(self.nonfinite_skipped))
            return loss
        where = f"step {self.global_step} (epoch {self.current_epoch})"
        if self.nonfinite_loss == "stop":
            raise NonFiniteError(
                f"the training loss is {loss.item()} at {where}: stopped (lower --model.lr, or "
                "--model.nonfinite_loss=skip to skip such steps); no non-finite checkpoint was written"
            )
        bad = _first_nonfinite(dict(self.named_parameters()))
        if bad is not None:
            raise NonFiniteError(
                f"the training loss is {loss.item()} at {where} and the parameter {bad} is already "
                "non-finite, so skipping steps cannot recover: stopped (lower --model.lr)"
            )
        with torch.no_grad():
            for name, buffer in self.named_buffers():
                buffer.copy_(self._buffers_before[name])
        self.nonfinite_skipped += 1
        rank_zero_warn(
            f"skipped {where}: the training loss is {loss.item()} ({self.nonfinite_skipped} skipped so far)"
        )
        self.log("train/nonfinite_skipped", float(self.nonfinite_skipped))
        return None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to write a model with a non-finite parameter or buffer (it would become `best` or
        `last` and every later resume would start from it)."""
        bad = _first_nonfinite(checkpoint["state_dict"])
        if bad is not None:
            raise NonFiniteError(
                f"refused to save a checkpoint at step {self.global_step} (epoch {self.current_epoch}): "
                f"{bad} is non-finite (lower --model.lr); the checkpoints already written are finite"
            )


def _normalized(images: torch.Tensor) -> torch.Tensor:
    """`normalize_batch` of ``uint8`` images, in the default (contiguous) layout whatever the loader's
    was; anything else unchanged."""
    if images.dtype != torch.uint8:
        return images
    return normalize_batch(images).contiguous()


def _first_nonfinite(state: dict[str, Any]) -> str | None:
    """The first floating-point tensor of `state` with a nan or inf, or None (one device sync)."""
    floats = [(k, v) for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_floating_point()]
    if not floats:
        return None
    finite = torch.stack([torch.isfinite(v).all() for _, v in floats])
    if bool(finite.all()):
        return None
    return floats[int((~finite).nonzero()[0])][0]
