"""Segmentation from Python: a class map per image (and its probabilities on request), with the task's
evaluation settings (scales, flip, sliding window); `predict_step` calls the same `segment`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from lightning.pytorch import LightningDataModule
from torch import Tensor

from hrnet_lit.common.palette import make_palette
from hrnet_lit.common.predictor import Predictor, Settings, network_input

if TYPE_CHECKING:
    from hrnet_lit.segmentation.task import SegmentationTask


@dataclass
class SegmentationResult:
    """One image's classes: `mask` (H, W) class ids in the image's pixels, `probs` (K, H, W) where asked
    for; `class_names` and `palette` (K, 3) name and colour them."""

    mask: np.ndarray
    class_names: list[str]
    palette: np.ndarray
    probs: np.ndarray | None = None

    def colours(self) -> np.ndarray:
        """(H, W, 3) uint8: each pixel in its class's colour (ids outside the palette black)."""
        out = np.zeros((*self.mask.shape, 3), dtype=np.uint8)
        known = self.mask < len(self.palette)
        out[known] = self.palette[self.mask[known]]
        return out

    def draw(self, image: np.ndarray, alpha: float = 0.5) -> np.ndarray:
        """The (H, W, 3) uint8 image with the colour mask blended in at weight `alpha`."""
        return ((1 - alpha) * image + alpha * self.colours()).astype(np.uint8)

    def to_json(self) -> dict[str, Any]:
        """`height`, `width`, `class_names`, `mask` (rows of class ids), `probs` (K x H x W) if kept."""
        height, width = self.mask.shape
        out: dict[str, Any] = {
            "task": "segmentation",
            "height": height,
            "width": width,
            "class_names": list(self.class_names),
            "mask": self.mask.tolist(),
        }
        if self.probs is not None:
            out["probs"] = self.probs.round(6).tolist()
        return out


def segment(
    task: SegmentationTask, images: Tensor, palette: np.ndarray, probs: bool = False
) -> list[SegmentationResult]:
    """The results of uint8 images (N, 3, H, W) by `task.predict_probs` (its scales, flip, window)."""
    found = task.predict_probs(network_input(images)).float()
    masks = found.argmax(1).cpu().numpy()
    kept = found.cpu().numpy() if probs else [None] * len(masks)
    palette = np.asarray(palette, dtype=np.uint8)
    return [
        SegmentationResult(m, list(task.class_names), palette, p) for m, p in zip(masks, kept, strict=True)
    ]


class SegmentationPredictor(Predictor[SegmentationResult]):
    """`predict(images)` -> `SegmentationResult` per image.

    Args:
        probs: keep each image's class probabilities (K x H x W floats: memory).
    """

    task_kind = "segmentation"
    task: SegmentationTask

    def __init__(
        self,
        task: SegmentationTask,
        settings: Settings,
        data: LightningDataModule | None,
        probs: bool = False,
    ) -> None:
        super().__init__(task, settings, data)
        self.probs = probs
        given = getattr(data, "palette", None)
        self.palette = np.asarray(given if given is not None else make_palette(task.hparams.num_classes))

    def predict_batch(self, images: Tensor) -> list[SegmentationResult]:
        return segment(self.task, images, self.palette, self.probs)
