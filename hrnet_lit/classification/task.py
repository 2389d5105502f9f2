"""HRNet-C image classification (ImageNet, or any folder of classes) as a LightningModule."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.loss import SoftTargetCrossEntropy
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from hrnet_lit.classification import network
from hrnet_lit.classification.contract import CLASSIFICATION_CONTRACT
from hrnet_lit.classification.mixing import BatchMixing
from hrnet_lit.classification.network import ClsHeadName
from hrnet_lit.classification.predictor import TOP_K, caption, classify
from hrnet_lit.common.atomic import atomic_path
from hrnet_lit.common.normalize import denormalize
from hrnet_lit.common.task import TRAIN_METRICS, HRNetTask
from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig

Batch = tuple[torch.Tensor, torch.Tensor]  # images N x 3 x H x W, labels N


class ClassificationTask(HRNetTask):
    """HRNet-C: the backbone's four branches merged high-to-low into a 2048-d pooled vector, then
    K-way logits. The data module gives `num_classes` and `class_names`.

    Training: cross-entropy with `label_smoothing`, or with `mixup_alpha` / `cutmix_alpha` > 0 timm
    Mixup / CutMix and soft-target cross-entropy. Validation / test log `top1`, `top5` and `loss`
    (plain cross-entropy). `predict` writes `predictions.csv`: the top-5 classes of each image with
    their probabilities. An EMA of the weights is the `hrnet_lit.callbacks.ema.EMA` callback.

    Args:
        backbone: the HRNet variant; the official classifier upsamples `nearest` in its fusions.
        head: `cls` (HRNet-C).
        num_classes: set from the data module.
        class_names: set from the data module; names the classes in `predictions.csv`.
        label_smoothing: target smoothing (also of the mixed targets).
        mixup_alpha: mixup Beta(alpha, alpha); 0 disables it.
        cutmix_alpha: CutMix Beta(alpha, alpha); 0 disables it.
        mixup_prob: probability that a batch is mixed at all.
        mixup_switch_prob: with both on, probability of CutMix rather than mixup for a batch.
        task_kwargs: `pretrained`, `optimizer`, `lr`, `momentum`, `weight_decay`, `scheduler`, ...:
            see `HRNetTask`.
    """

    kind = "classification"
    contract = CLASSIFICATION_CONTRACT
    data_args = contract.task_args
    monitor = "val/top1"
    metrics = (*TRAIN_METRICS, "val/loss", "val/top1", "val/top5")
    default_data = "hrnet_lit.classification.data.SyntheticClassesDataModule"

    build_network = staticmethod(network.build_network)

    def __init__(
        self,
        backbone: BackboneConfig = network.BACKBONE,
        head: ClsHeadName = network.HEAD,
        num_classes: int = network.NUM_CLASSES,
        class_names: list[str] | None = None,
        label_smoothing: float = 0.0,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        mixup_prob: float = 1.0,
        mixup_switch_prob: float = 0.5,
        **task_kwargs: Any,
    ) -> None:
        super().__init__(**task_kwargs)
        self.save_hyperparameters()
        if num_classes < 1:
            raise InputError(f"model.num_classes must be >= 1, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise InputError(f"model.class_names has {len(class_names)} names for {num_classes} classes")
        for key, value in (("label_smoothing", label_smoothing), ("mixup_prob", mixup_prob)):
            if not 0.0 <= value <= 1.0:
                raise InputError(f"model.{key} must be in [0, 1], got {value}")
        for key, value in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
            if value < 0:
                raise InputError(f"model.{key} must be >= 0 (0 disables it), got {value}")
        self.net = self.build_network(backbone=backbone, head=head, num_classes=num_classes)
        self.class_names = class_names or [str(k) for k in range(num_classes)]
        self.mixing: BatchMixing | None = None
        if mixup_alpha > 0 or cutmix_alpha > 0:
            self.mixing = BatchMixing(
                num_classes, mixup_alpha, cutmix_alpha, mixup_prob, mixup_switch_prob, label_smoothing
            )
        self.soft_loss = SoftTargetCrossEntropy()
        self.hard_loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        top_k = min(TOP_K, num_classes)
        metrics = MetricCollection(
            {
                "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
                "top5": MulticlassAccuracy(num_classes, top_k=top_k, average="micro"),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self._predictions: list[list[Any]] = []

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        image, target = batch
        if self.mixing is not None:
            image, soft = self.mixing(image, target)
            loss = self.soft_loss(self(image), soft)
        else:
            loss = self.hard_loss(self(image), target)
        self.log("train/loss", loss, prog_bar=True, batch_size=image.shape[0])
        return self.finite_loss(loss)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, "test")

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), prog_bar=True)
        self.val_metrics.reset()

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def _evaluate(self, batch: Batch, metrics: MetricCollection, stage: str) -> None:
        image, target = batch
        logits = self(image)
        loss = nn.functional.cross_entropy(logits, target)
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=image.shape[0])
        metrics.update(logits, target)

    def validation_panels(self, batch: Batch, count: int) -> list[np.ndarray]:
        """The image, the image captioned with its true class, and the image captioned with the top
        prediction and its probability."""
        images, targets = batch[0][:count], batch[1][:count]
        probs, classes = self(images).softmax(1).max(1)
        panels = []
        for image, target, prob, guess in zip(
            images, targets.tolist(), probs.tolist(), classes.tolist(), strict=True
        ):
            rgb = denormalize(image)
            captions = (self.class_names[target], f"{self.class_names[guess]} {prob:.2f}")
            panels.append(np.concatenate([rgb, *(caption(rgb, text) for text in captions)], axis=1))
        return panels

    def on_predict_epoch_start(self) -> None:
        self._predictions = []

    def predict_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> dict[str, Any]:
        """Evaluation crops and their paths -> their top-5 results, as the Python predictor's."""
        images, paths = batch
        return {"paths": list(paths), "results": classify(self, images, min(TOP_K, self.hparams.num_classes))}

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        """Kept until `finish_predictions`, which writes one csv for all images."""
        for path, result in zip(prediction["paths"], prediction["results"], strict=True):
            row: list[Any] = [path]
            for name, p in zip(result.names, result.probs, strict=True):
                row += [name, f"{p:.6f}"]
            self._predictions.append(row)

    def finish_predictions(self, folder: Path) -> None:
        """`predictions.csv` (under DDP one `predictions-rank<r>.csv` per process): per image its path
        and its top-5 classes, most probable first, each with its probability; written atomically."""
        world, rank = self.trainer.world_size, self.trainer.global_rank
        path = folder / ("predictions.csv" if world == 1 else f"predictions-rank{rank}.csv")
        k = min(TOP_K, self.hparams.num_classes)
        header = ["image"] + [f"{name}_{j}" for j in range(1, k + 1) for name in ("class", "prob")]
        with atomic_path(path) as temp, open(temp, "w", newline="") as file:
            csv.writer(file).writerows([header, *self._predictions])
        self._predictions = []
