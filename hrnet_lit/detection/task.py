"""Object detection with HRNetV2p (HRFPN) as the backbone of torchvision's Faster R-CNN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchmetrics.detection import MeanAveragePrecision

from hrnet_lit.common.atomic import atomic_path, save_atomically
from hrnet_lit.common.task import TRAIN_METRICS, HRNetTask
from hrnet_lit.detection import network
from hrnet_lit.detection.contract import DETECTION_CONTRACT
from hrnet_lit.detection.data.transforms import unit_float
from hrnet_lit.detection.detector import DetectorConfig, DetHead
from hrnet_lit.detection.predictor import DetectionResult, detect, draw_boxes
from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig

Target = dict[str, torch.Tensor]
MapBackend = Literal["faster_coco_eval", "pycocotools"]
RESULTS_FILE = "detections.json"
# torchmetrics' names -> ours; the COCO figures (AP over IoU 0.5:0.95, at 0.5, at 0.75, by size).
MAP_KEYS = {
    "map": "mAP",
    "map_50": "mAP50",
    "map_75": "mAP75",
    "map_small": "mAP_small",
    "map_medium": "mAP_medium",
    "map_large": "mAP_large",
    "mar_100": "mAR100",
}


class DetectionTask(HRNetTask):
    """HRNet + V2p (or V1 / V2 for the head ablation) under Faster R-CNN; the detector's own losses
    are logged one by one and summed, and COCO's mAP is computed by COCO's own code.

    The data module gives `num_classes`, `class_names` and `category_ids`. Images arrive as lists
    of `uint8` images of any size with target dicts (`hrnet_lit.detection.data`) and become the 0-1
    floats the detector takes on the task's device (`on_after_batch_transfer`).

    Args:
        backbone: the HRNet variant (`--model.backbone.preset`, `--model.backbone.fuse_method`, ...).
        head: `v2p` (HRFPN, five levels: the paper's detector); `v1` / `v2`: one stride-4 map
            carrying all five anchor sizes (the paper's head ablation).
        num_classes: object classes (the background is added by the detector).
        class_names: names of the classes, for the per-class AP and the drawn boxes.
        category_ids: the dataset's category id of each class, written into the results json.
        detector: Faster R-CNN's resize (`min_size`, `max_size`), widths and proposal knobs.
        map_backend: COCO evaluation code behind torchmetrics' `MeanAveragePrecision`.
        draw_score_thresh: `predict` draws the detections scoring at least this (the results json
            keeps all of them).
        warmup_steps / warmup_ratio: linear warm-up over this many updates, from `lr * warmup_ratio`
            (the official 500 iterations from a third); 0 leaves `warmup_epochs` in charge.
        optim_kwargs: `pretrained`, `optimizer`, `lr`, ...: see `HRNetTask`.
    """

    architecture = ("backbone", "head", "num_classes", "detector")
    kind = "detection"
    contract = DETECTION_CONTRACT
    data_args = contract.task_args
    monitor = "val/mAP"
    metrics = (
        *TRAIN_METRICS,
        "train/loss_*",
        *(f"val/{name}" for name in MAP_KEYS.values()),
        "val/AP/*",
    )
    default_data = "hrnet_lit.detection.data.SyntheticDetectionDataModule"
    iou_type: str | tuple[str, ...] = "bbox"  # what `MeanAveragePrecision` scores
    # (torchmetrics' key prefix, ours) per iou type; torchmetrics prefixes none where there is one type.
    map_prefixes: tuple[tuple[str, str], ...] = (("", ""),)
    train_keys = ("boxes", "labels")  # what the detector's training forward takes of a target
    result_type: type[DetectionResult] = DetectionResult  # what `predict` gives per image

    build_network = staticmethod(network.build_network)

    def __init__(
        self,
        backbone: BackboneConfig = network.BACKBONE,
        head: DetHead = network.HEAD,
        num_classes: int = network.NUM_CLASSES,
        class_names: list[str] | None = None,
        category_ids: list[int] | None = None,
        detector: DetectorConfig = network.DETECTOR,
        map_backend: MapBackend = "faster_coco_eval",
        draw_score_thresh: float = 0.5,
        warmup_steps: int = 0,
        warmup_ratio: float = 1 / 3,
        **optim_kwargs: Any,
    ) -> None:
        super().__init__(**optim_kwargs)
        self.save_hyperparameters()
        for key, given in (("class_names", class_names), ("category_ids", category_ids)):
            if given is not None and len(given) != num_classes:
                raise InputError(f"model.{key} has {len(given)} entries for {num_classes} classes")
        if map_backend not in ("faster_coco_eval", "pycocotools"):
            raise InputError(f"model.map_backend={map_backend!r}: choose faster_coco_eval or pycocotools")
        self.net = self.build_network(
            backbone=backbone, head=head, num_classes=num_classes, detector=detector
        )
        self.class_names = list(class_names or [str(k) for k in range(1, num_classes + 1)])
        self.category_ids = list(category_ids or range(1, num_classes + 1))
        self.draw_score_thresh = draw_score_thresh
        if warmup_steps < 0 or not 0.0 < warmup_ratio <= 1.0:
            raise InputError(
                f"model.warmup_steps={warmup_steps} must be >= 0 and "
                f"model.warmup_ratio={warmup_ratio} in (0, 1]"
            )
        self.warmup = (warmup_steps, warmup_ratio)
        metric = {
            "box_format": "xyxy",
            "iou_type": self.iou_type,
            "class_metrics": True,
            "backend": map_backend,
        }
        self.val_map = MeanAveragePrecision(**metric)
        self.test_map = MeanAveragePrecision(**metric)
        self._results: list[dict[str, Any]] = []

    def pretrained_target(self) -> nn.Module:
        """The HRNet (and HRFPN, where it fits) inside the detector."""
        return self.net.backbone

    def configure_optimizers(self) -> dict[str, Any]:
        """The warm-up in updates, given to timm in its unit (epochs of this run's length)."""
        steps, ratio = self.warmup
        if steps:
            epochs = max(self.trainer.max_epochs or 1, 1)
            per_epoch = max(int(self.trainer.estimated_stepping_batches) // epochs, 1)
            self.sched_args.update(warmup_epochs=steps / per_epoch, warmup_lr=self.optim_args["lr"] * ratio)
        return super().configure_optimizers()

    def normalize_inputs(self, batch: Any) -> Any:
        """An `(images, targets)` batch's `uint8` images (a list of any sizes) as the 0-1 floats the
        detector takes (it normalises them itself), converted on the device. A predict batch
        `(images, paths, image_ids)` stays `uint8`: `detect`, the predictor's batch function,
        converts it and draws on its pixels."""
        if isinstance(batch, tuple | list) and len(batch) == 2 and isinstance(batch[0], list):
            return (unit_float(batch[0]), *batch[1:])
        return batch

    def forward(self, images: list[torch.Tensor]) -> list[Target]:
        """Detections per image (boxes xyxy in its own pixels, labels 1 ... K, scores)."""
        return self.net(images)

    def training_step(self, batch: tuple[list[torch.Tensor], list[Target]], batch_idx: int) -> Any:
        """The detector's losses (on the `train_keys` of each target), logged one by one and summed."""
        images, targets = batch
        losses = self.net(images, [{k: t[k] for k in self.train_keys} for t in targets])
        size = len(images)
        for name, value in losses.items():
            self.log(f"train/{name}", value, batch_size=size)
        loss = torch.stack(list(losses.values())).sum()
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return self.finite_loss(loss)

    def validation_step(self, batch: tuple[list[torch.Tensor], list[Target]], batch_idx: int) -> None:
        self._evaluate(batch, self.val_map)

    def test_step(self, batch: tuple[list[torch.Tensor], list[Target]], batch_idx: int) -> None:
        self._evaluate(batch, self.test_map)

    def on_validation_epoch_end(self) -> None:
        self._log_map(self.val_map, "val")

    def on_test_epoch_end(self) -> None:
        self._log_map(self.test_map, "test")

    def _evaluate(self, batch: tuple[list[torch.Tensor], list[Target]], metric: MeanAveragePrecision) -> None:
        images, targets = batch
        keys = ("boxes", "labels", "iscrowd", "area")
        metric.update(self(images), [{k: t[k] for k in keys} for t in targets])

    def _log_map(self, metric: MeanAveragePrecision, stage: str) -> None:
        """The figures of each iou type; the monitored type's mAP and mAP50 on the progress bar."""
        values = metric.compute()
        for kind, prefix in self.map_prefixes:
            monitored = f"val/{prefix}mAP" == self.monitor
            for theirs, ours in MAP_KEYS.items():
                shown = monitored and ours in ("mAP", "mAP50")
                self.log(f"{stage}/{prefix}{ours}", values[kind + theirs].float(), prog_bar=shown)
            per_class = values[f"{kind}map_per_class"].reshape(-1).tolist()
            # Classes without ground truth get no entry: torchmetrics lists the classes it saw.
            for label, ap in zip(values["classes"].reshape(-1).tolist(), per_class, strict=True):
                self.log(f"{stage}/{prefix}AP/{self.class_names[int(label) - 1]}", float(ap))
        metric.reset()

    def predict_step(
        self, batch: tuple[list[torch.Tensor], list[str], list[int]], batch_idx: int
    ) -> dict[str, Any]:
        """uint8 images (3 x H x W each) -> their results, as the Python predictor's."""
        images, paths, image_ids = batch
        found = detect(self, images, self.result_type)
        return {"results": found, "images": images, "paths": paths, "image_ids": image_ids}

    def on_predict_start(self) -> None:
        self._results = []

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        """`<stem>.png`: the image with the boxes scoring at least `draw_score_thresh`, labelled with
        class name and score, in the class's colour; every detection goes to the results json."""
        for result, image, path, image_id in zip(
            prediction["results"],
            prediction["images"],
            prediction["paths"],
            prediction["image_ids"],
            strict=True,
        ):
            for box, label, score in zip(
                result.boxes.tolist(), result.labels.tolist(), result.scores.tolist(), strict=True
            ):
                x0, y0, x1, y1 = box
                self._results.append(
                    {
                        "image_id": image_id,
                        "file_name": Path(path).name,
                        "category_id": self.category_ids[label - 1],
                        "bbox": [round(v, 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                        "score": round(score, 4),
                    }
                )
            picture = Image.fromarray(result.draw(image.permute(1, 2, 0).cpu().numpy()))
            save_atomically(picture, folder / f"{Path(path).stem}.png", "PNG")

    def draw(
        self,
        image: torch.Tensor,
        boxes: torch.Tensor,
        labels: torch.Tensor,
        scores: torch.Tensor | None = None,
    ) -> np.ndarray:
        """The 0-1 image (3 x H x W) as (H, W, 3) uint8 with the boxes (xyxy) in their class's colour,
        labelled with the class name and, for detections, the score."""
        pixels = (image.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        return draw_boxes(pixels, boxes, labels, self.class_names, scores)

    def draw_objects(self, image: torch.Tensor, objects: Target) -> np.ndarray:
        """`draw` of a target's or a detection's objects (with their scores, where they have some)."""
        return self.draw(image, objects["boxes"], objects["labels"], objects.get("scores"))

    def validation_panels(
        self, batch: tuple[list[torch.Tensor], list[Target]], count: int
    ) -> list[np.ndarray]:
        """The image, its ground truth and the detections `predict` would draw (those scoring at
        least `draw_score_thresh`), each by `draw_objects`."""
        images, targets = batch[0][:count], batch[1][:count]
        panels = []
        for image, target, found in zip(images, targets, self(images), strict=True):
            shown = found["scores"] >= self.draw_score_thresh
            drawn = [
                self.draw(image, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)),
                self.draw_objects(image, target),
                self.draw_objects(image, {k: v[shown] for k, v in found.items()}),
            ]
            panels.append(np.concatenate(drawn, axis=1))
        return panels

    def finish_predictions(self, folder: Path) -> None:
        """`detections.json`: COCO's results format (`image_id`, `category_id`, `bbox` as x, y,
        width, height, `score`), plus each image's `file_name`. The image id is the COCO json's where
        the folder is a split's image folder, else the number of a numeric file name (COCO's), else
        a free number (`hrnet_lit.detection.data.datamodules.numbered`)."""
        path = folder / RESULTS_FILE
        with atomic_path(path) as temp:
            temp.write_text(json.dumps(self._results))
