"""Classification from Python: the top-k classes of each image with their probabilities, after the
data's evaluation transform (resize, centre crop); `predict_step` calls the same `classify`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from PIL import Image, ImageDraw
from torch import Tensor

from hrnet_lit.common.predictor import Predictor, Settings, chunks, network_input
from hrnet_lit.errors import InputError

if TYPE_CHECKING:
    from hrnet_lit.classification.task import ClassificationTask

TOP_K = 5  # classes per image by default, and the k of val/top5


def caption(rgb: np.ndarray, text: str) -> np.ndarray:
    """`text` in white on a black strip at the top left of a copy of the (H, W, 3) uint8 image."""
    canvas = Image.fromarray(rgb)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle(draw.textbbox((2, 1), text), fill=(0, 0, 0))
    draw.text((2, 1), text, fill=(255, 255, 255))
    return np.asarray(canvas)


@dataclass
class ClassificationResult:
    """One image's most probable classes, most probable first: ids, names and probabilities."""

    classes: list[int]
    names: list[str]
    probs: list[float]

    def to_json(self) -> dict[str, Any]:
        return {"task": "classification", "classes": self.classes, "names": self.names, "probs": self.probs}

    def draw(self, image: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 image captioned with the top class and its probability."""
        return caption(image, f"{self.names[0]} {self.probs[0]:.2f}")


def classify(task: ClassificationTask, images: Tensor, top_k: int = TOP_K) -> list[ClassificationResult]:
    """The top-`top_k` results of a batch of evaluation crops (uint8, or normalised floats)."""
    probs, classes = task(network_input(images)).float().softmax(1).topk(top_k, dim=1)
    names = task.class_names
    return [
        ClassificationResult(c, [names[k] for k in c], p)
        for c, p in zip(classes.tolist(), probs.tolist(), strict=True)
    ]


class ClassificationPredictor(Predictor[ClassificationResult]):
    """`predict(images)` -> `ClassificationResult` per image: the run's evaluation transform (its
    `image_size`, `crop_pct`, `interpolation`) on each image, then the network.

    Args:
        top_k: classes per result (at most the number of classes).
    """

    task_kind = "classification"
    task: ClassificationTask

    def __init__(
        self,
        task: ClassificationTask,
        settings: Settings,
        data: LightningDataModule | None,
        top_k: int = TOP_K,
    ) -> None:
        super().__init__(task, settings, data)
        if data is None or not hasattr(data, "eval_transform"):
            raise InputError(
                "hrnet_lit.load: classification needs the run's evaluation transform (image size, crop): "
                "the checkpoint carries no data settings, so pass config=<the run's config.yaml>"
            )
        if top_k < 1:
            raise InputError(f"top_k={top_k} must be >= 1")
        self.transform = data.eval_transform
        self.top_k = min(top_k, task.hparams.num_classes)

    def predict_arrays(self, arrays: list[np.ndarray]) -> list[ClassificationResult]:
        crops = [self.transform(Image.fromarray(array)) for array in arrays]
        results = []
        for part in chunks(len(crops), self.settings.batch_size):
            batch = torch.stack(crops[part]).to(self.device)
            results += classify(self.task, batch, self.top_k)
        return results
