"""HRNetV2 semantic segmentation (the paper's main case) as a LightningModule."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from hrnet_lit.common.normalize import denormalize
from hrnet_lit.common.task import TRAIN_METRICS, HRNetTask
from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.segmentation import network
from hrnet_lit.segmentation.contract import SEGMENTATION_CONTRACT, SegmentationData
from hrnet_lit.segmentation.inference import FlipAverage, predict_probs, upsample
from hrnet_lit.segmentation.loss import SegmentationLoss
from hrnet_lit.segmentation.network import SegHead
from hrnet_lit.segmentation.predictor import segment
from hrnet_lit.segmentation.writer import colour, write_masks

Batch = tuple[torch.Tensor, torch.Tensor]  # images N x 3 x H x W, labels N x H x W


def check_eval_knobs(
    eval_scales: list[float], eval_window: tuple[tuple[int, int], tuple[int, int]] | None
) -> None:
    """Refuse evaluation knobs that would fail (or leave pixels unscored) only once inference runs."""
    if not eval_scales or not all(0 < scale < float("inf") for scale in eval_scales):
        raise InputError(f"model.eval_scales must be a non-empty list of positive scales, got {eval_scales}")
    if eval_window is not None:
        (crop_h, crop_w), (stride_h, stride_w) = eval_window
        if min(crop_h, crop_w, stride_h, stride_w) < 1 or stride_h > crop_h or stride_w > crop_w:
            raise InputError(
                "model.eval_window must be ((crop_h, crop_w), (stride_h, stride_w)) with positive sizes and "
                f"each stride at most its crop (windows must cover every pixel), got {eval_window}"
            )


class SegmentationTask(HRNetTask):
    """Backbone, head and classifier; logits are upsampled to the label size.

    The data module gives `num_classes`, `class_names` and `ignore_index`.

    Args:
        backbone: the HRNet variant (`--model.backbone.preset`, `--model.backbone.width`, ...).
        head: representation head: `v1` (1/4 branch), `v2` (all branches, 15C), `v2p` (HRFPN).
        num_classes: set from the data module.
        class_names: set from the data module, names the per-class IoU logs.
        ignore_index: label of pixels that count for nothing.
        class_weights: per-class cross-entropy weights (the Cityscapes configs carry the official ones).
        ohem: online hard example mining, as the official repo (`ohem_thresh`, `ohem_min_kept`).
        eval_scales: validate / test at these image scales, averaging probabilities (official TTA:
            [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]).
        eval_flip: also average the horizontally flipped image.
        eval_flip_average: how the two views merge: `logits` averages their logits, then softmax
            (the official order); `probs` averages their probabilities.
        eval_window: sliding-window inference as ((crop_h, crop_w), (stride_h, stride_w)); None: whole image.
        flip_pairs: classes that a horizontal flip exchanges (LIP's left / right parts), swapped back in
            the flip test; a data module that names its own must agree.
        optim_kwargs: `pretrained`, `optimizer`, `lr`, `momentum`, `weight_decay`, `scheduler`, `poly_power`,
            `warmup_epochs`, `min_lr`, `nonfinite_loss`, `channels_last`, `compile`: see `HRNetTask`.
    """

    kind = "segmentation"
    contract = SEGMENTATION_CONTRACT
    data_args = contract.task_args
    data: SegmentationData
    monitor = "val/mIoU"
    metrics = (*TRAIN_METRICS, "val/loss", "val/mIoU", "val/IoU/*", "val/pixel_acc")
    default_data = "hrnet_lit.segmentation.data.SyntheticDataModule"

    build_network = staticmethod(network.build_network)

    def __init__(
        self,
        backbone: BackboneConfig = network.BACKBONE,
        head: SegHead = network.HEAD,
        num_classes: int = network.NUM_CLASSES,
        class_names: list[str] | None = None,
        ignore_index: int = 255,
        class_weights: list[float] | None = None,
        ohem: bool = False,
        ohem_thresh: float = 0.7,
        ohem_min_kept: int = 100_000,
        eval_scales: list[float] = [1.0],  # noqa: B006 (read only; a list reads naturally in configs)
        eval_flip: bool = False,
        eval_flip_average: FlipAverage = "logits",
        eval_window: tuple[tuple[int, int], tuple[int, int]] | None = None,
        flip_pairs: list[list[int]] | None = None,
        **optim_kwargs: Any,
    ) -> None:
        super().__init__(**optim_kwargs)
        self.save_hyperparameters()
        if num_classes < 1:
            raise InputError(f"model.num_classes must be >= 1, got {num_classes}")
        if class_weights is not None and len(class_weights) != num_classes:
            raise InputError(
                f"model.class_weights has {len(class_weights)} entries for {num_classes} classes"
            )
        check_eval_knobs(eval_scales, eval_window)
        self.net = self.build_network(backbone=backbone, head=head, num_classes=num_classes)
        self.resize = (backbone.upsample_mode, backbone.align_corners)  # logits to the label size
        self.class_names = class_names or [str(k) for k in range(num_classes)]
        self.loss = SegmentationLoss(ignore_index, class_weights, ohem, ohem_thresh, ohem_min_kept)
        metrics = MetricCollection(
            {
                "IoU": MulticlassJaccardIndex(num_classes, average="none", ignore_index=ignore_index),
                "pixel_acc": MulticlassAccuracy(num_classes, average="micro", ignore_index=ignore_index),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.eval_scales = list(eval_scales)
        self.eval_flip = eval_flip
        if eval_flip_average not in get_args(FlipAverage):
            raise InputError(
                f"model.eval_flip_average={eval_flip_average!r}: choose one of {get_args(FlipAverage)}"
            )
        self.eval_flip_average = eval_flip_average
        self.eval_window = eval_window
        self.flip_pairs = [list(p) for p in flip_pairs or []]
        if any(len(p) != 2 or not all(0 <= c < num_classes for c in p) for p in self.flip_pairs):
            raise InputError(
                f"model.flip_pairs must be pairs of class ids below {num_classes}, got {flip_pairs}"
            )

    def setup(self, stage: str) -> None:
        """A data module whose classes swap under a flip (LIP) must be given the same pairs."""
        super().setup(stage)
        given = getattr(self.trainer.datamodule, "flip_pairs", None)
        if given is not None and [list(p) for p in given] != self.flip_pairs:
            raise InputError(
                f"model.flip_pairs={self.flip_pairs} but the data's classes swap as {given} under a flip: "
                f"set --model.flip_pairs='{[list(p) for p in given]}'"
            )

    def normalize_inputs(self, batch: Any) -> Any:
        """Images normalised (`HRNetTask.normalize_inputs`) and ``uint8`` masks cast to ``int64``, the
        loss's and the metrics' label type, on the device (8x fewer bytes through the loaders)."""
        batch = super().normalize_inputs(batch)
        if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[1], torch.Tensor):
            return type(batch)([batch[0], batch[1].long()])
        return batch

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        image, target = batch
        loss = self.loss(upsample(self(image), target.shape[-2:], *self.resize), target)
        self.log("train/loss", loss, prog_bar=True, batch_size=image.shape[0])
        return self.finite_loss(loss)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, "test")

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics, "val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, "test")

    def predict_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> dict[str, object]:
        """uint8 images (N, 3, H, W) and their paths -> their results, as the Python predictor's."""
        images, paths = batch
        return {"results": segment(self, images, self.data.palette), "images": images, "paths": paths}

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        write_masks(prediction, folder, writer.overlay, writer.alpha)

    def validation_panels(self, batch: Batch, count: int) -> list[np.ndarray]:
        """Masks in the dataset's palette (W&B's own mask overlays would recolour the classes)."""
        images, targets = batch[0][:count], batch[1][:count]
        predictions = self.predict_probs(images).argmax(1)
        palette = np.asarray(self.data.palette, dtype=np.uint8)
        return [
            np.concatenate([denormalize(image), colour(target, palette), colour(prediction, palette)], axis=1)
            for image, target, prediction in zip(images, targets, predictions, strict=True)
        ]

    def predict_probs(self, image: torch.Tensor) -> torch.Tensor:
        """Class probabilities at the image size, with the configured evaluation scales, flip and window."""
        return predict_probs(
            self,
            image,
            self.eval_scales,
            self.eval_flip,
            self.eval_window,
            self.resize,
            self.eval_flip_average,
            self.flip_pairs,
        )

    def _evaluate(
        self, batch: tuple[torch.Tensor, torch.Tensor], metrics: MetricCollection, stage: str
    ) -> None:
        image, target = batch
        probs = self.predict_probs(image)
        if probs.shape[-2:] != target.shape[-2:]:  # an input resized for the network (LIP, PASCAL-Context)
            probs = upsample(probs, target.shape[-2:], *self.resize)
        loss = nn.functional.nll_loss(
            probs.clamp_min(1e-8).log(), target, ignore_index=self.hparams.ignore_index
        )
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=image.shape[0])
        metrics.update(probs.argmax(1), target)

    def _log_metrics(self, metrics: MetricCollection, stage: str) -> None:
        values = metrics.compute()
        iou = values.pop(f"{stage}/IoU")
        self.log(f"{stage}/mIoU", iou.mean(), prog_bar=True)
        self.log_dict({f"{stage}/IoU/{name}": v for name, v in zip(self.class_names, iou, strict=True)})
        self.log_dict(values)
        metrics.reset()
