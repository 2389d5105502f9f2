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
from hrnet_lit.detection.task import MAP_KEYS, DetectionTask, MapBackend, Target
from hrnet_lit.errors import InputError
from hrnet_lit.instance import network
from hrnet_lit.instance.contract import INSTANCE_CONTRACT
from hrnet_lit.instance.detector import MaskRCNNConfig
from hrnet_lit.instance.predictor import InstanceResult
from hrnet_lit.instance.writer import ImageIds, overlay_masks, results
from hrnet_lit.models.config import BackboneConfig

RESULTS_FILE = "segmentations.json"
# (torchmetrics' key prefix, ours) per iou type: the box figures keep the detection task's names.
_PREFIX = (("bbox_", ""), ("segm_", "mask_"))


class InstanceTask(DetectionTask):
    """HRNet + V2p (or V1 / V2) under Mask R-CNN: the detection task (its losses, warm-up, results
    and drawing) with the mask branch. Its losses add `train/loss_mask`; COCO's box and mask AP
    are computed by COCO's own code (`val/mAP`, `val/mask_mAP`, ...; the best checkpoint by
    `val/mask_mAP`).

    Batches are lists of `uint8` images with target dicts that carry `masks` (N, H, W) uint8
    (`hrnet_lit.instance.data`); the images become 0-1 floats on the device, as `DetectionTask`'s.

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
        *(f"val/{prefix}{name}" for _, prefix in _PREFIX for name in MAP_KEYS.values()),
        "val/AP/*",
        "val/mask_AP/*",
    )
    default_data = "hrnet_lit.instance.data.SyntheticInstanceDataModule"
    iou_type = ("bbox", "segm")
    map_prefixes = _PREFIX
    train_keys = ("boxes", "labels", "masks")
    result_type = InstanceResult

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
        self._ids = ImageIds()

    def forward(self, images: list[torch.Tensor]) -> list[Target]:
        """Detections per image: boxes xyxy in its own pixels, labels 1 ... K, scores, and `masks`
        (D, H, W) binary at `mask_thresh`."""
        found = self.net(images)
        for one in found:
            one["masks"] = one["masks"][:, 0] >= self.mask_thresh
        return found

    def _evaluate(self, batch: tuple[list[torch.Tensor], list[Target]], metric: MeanAveragePrecision) -> None:
        images, targets = batch
        keys = ("boxes", "labels", "masks", "iscrowd", "area")
        truth = [{k: t[k].bool() if k == "masks" else t[k] for k in keys} for t in targets]
        metric.update(self(images), truth)

    def on_predict_start(self) -> None:
        self._results, self._ids = [], ImageIds()

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        """`<stem>.png`: the image with the masks and boxes scoring at least `draw_score_thresh`,
        labelled with class name and score, in the class's colour; every detection goes to the
        results json with its mask as RLE."""
        for result, image, path in zip(
            prediction["results"], prediction["images"], prediction["paths"], strict=True
        ):
            name = Path(path).name
            found = {k: torch.from_numpy(getattr(result, k)) for k in ("boxes", "labels", "scores", "masks")}
            self._results += results(found, found["masks"], self._ids(name), name, self.category_ids)
            picture = result.draw(image.permute(1, 2, 0).cpu().numpy())
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

    def draw_objects(self, image: torch.Tensor, objects: Target) -> np.ndarray:
        """`draw_instances` of a target's or a detection's objects (with scores, where they have some)."""
        keys = ("masks", "boxes", "labels")
        return self.draw_instances(image, *(objects[k] for k in keys), objects.get("scores"))

    def finish_predictions(self, folder: Path) -> None:
        """`segmentations.json`: COCO's results format for `segm` (and `bbox`) evaluation, plus each
        image's `file_name`."""
        with atomic_path(folder / RESULTS_FILE) as temp:
            temp.write_text(json.dumps(self._results))
