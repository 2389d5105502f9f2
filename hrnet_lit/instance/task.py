"""Instance segmentation with HRNetV2p (HRFPN) as the backbone of torchvision's Mask R-CNN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchmetrics.detection import MeanAveragePrecision

from hrnet_lit.common.atomic import atomic_path, save_atomically
from hrnet_lit.common.palette import make_palette
from hrnet_lit.common.task import TRAIN_METRICS
from hrnet_lit.detection.detector import DetHead
from hrnet_lit.detection.task import DetectionTask, MapBackend, Target
from hrnet_lit.errors import InputError
from hrnet_lit.instance import network
from hrnet_lit.instance.contract import INSTANCE_CONTRACT
from hrnet_lit.instance.detector import MaskRCNNConfig
from hrnet_lit.instance.writer import ImageIds, overlay_masks, results
from hrnet_lit.models.config import BackboneConfig

RESULTS_FILE = "segmentations.json"
# torchmetrics' names (after its `bbox_` / `segm_` prefix) -> ours.
_MAP_KEYS = {
    "map": "mAP",
    "map_50": "mAP50",
    "map_75": "mAP75",
    "map_small": "mAP_small",
    "map_medium": "mAP_medium",
    "map_large": "mAP_large",
    "mar_100": "mAR100",
}
_PREFIX = {"bbox": "", "segm": "mask_"}  # box figures keep the detection task's names


class InstanceTask(DetectionTask):
    """HRNet + V2p (or V1 / V2) under Mask R-CNN: the detection task (its losses, warm-up, results
    and drawing) with the mask branch. Its losses add `train/loss_mask`; COCO's box and mask AP
    are computed by COCO's own code (`val/mAP`, `val/mask_mAP`, ...; the best checkpoint by
    `val/mask_mAP`).

    Batches are lists of 0-1 float images with target dicts that carry `masks` (N, H, W) uint8
    (`hrnet_lit.instance.data`).

    Args:
        detector: Faster R-CNN's knobs (`DetectionTask`) and the mask branch's (`MaskRCNNConfig`).
        mask_thresh: a pixel belongs to a detection where its mask probability reaches this (the
            official 0.5), for the metrics, the drawings and the results json.
        Others: see `DetectionTask`.
    """

    architecture = ("backbone", "head", "num_classes", "detector")
    kind = "instance"
    contract = INSTANCE_CONTRACT
    data_args = contract.task_args
    monitor = "val/mask_mAP"
    metrics = (
        *TRAIN_METRICS,
        "train/loss_*",
        *(f"val/{prefix}{name}" for prefix in _PREFIX.values() for name in _MAP_KEYS.values()),
        "val/AP/*",
        "val/mask_AP/*",
    )
    default_data = "hrnet_lit.instance.data.SyntheticInstanceDataModule"

    build_network = staticmethod(network.build_network)

    def __init__(
        self,
        backbone: BackboneConfig = network.BACKBONE,
        head: DetHead = network.HEAD,
        num_classes: int = network.NUM_CLASSES,
        class_names: list[str] | None = None,
        category_ids: list[int] | None = None,
        detector: MaskRCNNConfig = network.DETECTOR,
        map_backend: MapBackend = "faster_coco_eval",
        mask_thresh: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            backbone=backbone,
            head=head,
            num_classes=num_classes,
            class_names=class_names,
            category_ids=category_ids,
            detector=detector,
            map_backend=map_backend,
            **kwargs,
        )
        self.save_hyperparameters()
        if not 0.0 < mask_thresh < 1.0:
            raise InputError(f"model.mask_thresh={mask_thresh!r} must be in (0, 1)")
        self.mask_thresh = mask_thresh
        metric = {"iou_type": ("bbox", "segm"), "class_metrics": True, "backend": map_backend}
        self.val_map = MeanAveragePrecision(**metric)
        self.test_map = MeanAveragePrecision(**metric)
        self._ids = ImageIds()

    def forward(self, images: list[torch.Tensor]) -> list[Target]:
        """Detections per image: boxes xyxy in its own pixels, labels 1 ... K, scores, and `masks`
        (D, H, W) binary at `mask_thresh`."""
        found = self.net(images)
        for one in found:
            one["masks"] = one["masks"][:, 0] >= self.mask_thresh
        return found

    def training_step(self, batch: tuple[list[torch.Tensor], list[Target]], batch_idx: int) -> Any:
        """The detector's losses (the detection task's four and `loss_mask`), logged and summed."""
        images, targets = batch
        keys = ("boxes", "labels", "masks")
        losses = self.net(images, [{k: t[k] for k in keys} for t in targets])
        size = len(images)
        for name, value in losses.items():
            self.log(f"train/{name}", value, batch_size=size)
        loss = torch.stack(list(losses.values())).sum()
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return self.finite_loss(loss)

    def _evaluate(self, batch: tuple[list[torch.Tensor], list[Target]], metric: MeanAveragePrecision) -> None:
        images, targets = batch
        keys = ("boxes", "labels", "masks", "iscrowd", "area")
        truth = [{k: t[k].bool() if k == "masks" else t[k] for k in keys} for t in targets]
        metric.update(self(images), truth)

    def _log_map(self, metric: MeanAveragePrecision, stage: str) -> None:
        values = metric.compute()
        for kind, prefix in _PREFIX.items():
            for theirs, ours in _MAP_KEYS.items():
                shown = ours in ("mAP", "mAP50") and kind == "segm"
                self.log(f"{stage}/{prefix}{ours}", values[f"{kind}_{theirs}"].float(), prog_bar=shown)
            per_class = values[f"{kind}_map_per_class"].reshape(-1).tolist()
            # Classes without ground truth get no entry: torchmetrics lists the classes it saw.
            for label, ap in zip(values["classes"].reshape(-1).tolist(), per_class, strict=True):
                self.log(f"{stage}/{prefix}AP/{self.class_names[int(label) - 1]}", float(ap))
        metric.reset()

    def on_predict_start(self) -> None:
        self._results, self._ids = [], ImageIds()

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        """`<stem>.png`: the image with the masks and boxes scoring at least `draw_score_thresh`,
        labelled with class name and score, in the class's colour; every detection goes to the
        results json with its mask as RLE."""
        for found, image, path in zip(
            prediction["detections"], prediction["images"], prediction["paths"], strict=True
        ):
            name = Path(path).name
            self._results += results(found, found["masks"], self._ids(name), name, self.category_ids)
            shown = found["scores"].cpu() >= self.draw_score_thresh
            picture = self.draw_instances(
                image, *(found[k].cpu()[shown] for k in ("masks", "boxes", "labels", "scores"))
            )
            save_atomically(Image.fromarray(picture), folder / f"{Path(path).stem}.png", "PNG")

    def draw_instances(
        self,
        image: torch.Tensor,
        masks: torch.Tensor,
        boxes: torch.Tensor,
        labels: torch.Tensor,
        scores: torch.Tensor | None = None,
    ) -> np.ndarray:
        """The 0-1 image (3 x H x W) as (H, W, 3) uint8 with the masks blended in and the boxes drawn
        in their class's colour (`draw`)."""
        palette = [tuple(int(c) for c in rgb) for rgb in make_palette(len(self.class_names) + 1)[1:]]
        colours = [palette[k - 1] for k in labels.tolist()]
        return self.draw(overlay_masks(image, masks, colours), boxes, labels, scores)

    def validation_panels(
        self, batch: tuple[list[torch.Tensor], list[Target]], count: int
    ) -> list[np.ndarray]:
        """The image, its ground-truth masks and boxes, and the detections `predict` would draw."""
        images, targets = batch[0][:count], batch[1][:count]
        panels = []
        for image, target, found in zip(images, targets, self(images), strict=True):
            shown = found["scores"] >= self.draw_score_thresh
            drawn = [
                self.draw(image, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)),
                self.draw_instances(image, target["masks"], target["boxes"], target["labels"]),
                self.draw_instances(
                    image, *(found[k][shown] for k in ("masks", "boxes", "labels", "scores"))
                ),
            ]
            panels.append(np.concatenate(drawn, axis=1))
        return panels

    def finish_predictions(self, folder: Path) -> None:
        """`segmentations.json`: COCO's results format for `segm` (and `bbox`) evaluation, plus each
        image's `file_name`."""
        with atomic_path(folder / RESULTS_FILE) as temp:
            temp.write_text(json.dumps(self._results))
