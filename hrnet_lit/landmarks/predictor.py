"""Facial landmarks from Python: per face its landmarks (x, y and the heatmap maximum, in the image's
pixels) and its box. Faces are the whole image (the default) or given boxes, cropped as the data's
predict folder crops them (`FaceTransform`); `predict_step` calls the same `face_landmarks`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from PIL import Image, ImageDraw
from torch import Tensor

from hrnet_lit.common.predictor import ImageLike, Predictor, Settings, chunks, network_input
from hrnet_lit.errors import InputError
from hrnet_lit.landmarks.data.transforms import Face, FaceTransform
from hrnet_lit.pose.affine import PIXEL_STD

if TYPE_CHECKING:
    from hrnet_lit.landmarks.task import LandmarkTask

GUESS = (235, 60, 40)  # the colour of predicted landmarks


def draw_points(image: Image.Image, points: np.ndarray, colour: tuple[int, int, int]) -> None:
    """A dot per point (K, 2+) on `image`, sized to the image."""
    draw = ImageDraw.Draw(image)
    r = max(1.0, min(image.size) / 150)
    for x, y in points[:, :2]:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)


@dataclass
class LandmarkResult:
    """One image's faces: `landmarks` (F, K, 2) and their `scores` (F, K: heatmap maxima) in the image's
    pixels, and each face's `boxes` (F, 4: x1, y1, x2, y2); F = 0 where no face box was given."""

    landmarks: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray

    def to_json(self) -> dict[str, Any]:
        faces = [
            {"box": box.tolist(), "landmarks": points.tolist(), "scores": score.tolist()}
            for points, score, box in zip(self.landmarks, self.scores, self.boxes, strict=True)
        ]
        return {"task": "landmarks", "faces": faces}

    def draw(self, image: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 image with every face's landmarks."""
        canvas = Image.fromarray(image)
        for points in self.landmarks:
            draw_points(canvas, points, GUESS)
        return np.asarray(canvas)


def face_crop(transform: FaceTransform, image: Image.Image, box: np.ndarray, num: int) -> dict[str, Tensor]:
    """The crop of the face in `box` (x, y, w, h): centre the box's, scale its longer side / 200, as
    the official files give faces."""
    x, y, w, h = (float(v) for v in box[:4])
    empty = np.zeros((num, 2))
    face = Face(np.array([x + w / 2, y + h / 2]), max(w, h) / PIXEL_STD, empty, np.zeros(num), 1.0, 0)
    return transform(image, face)


def face_landmarks(task: LandmarkTask, crops: Tensor, center: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
    """Landmarks (N, K, 2) in image pixels and their scores (N, K) of face crops (uint8, or normalised
    floats), with the task's flip test and decoding."""
    return task.decode(task.heatmaps(network_input(crops)).float(), center, scale)


class LandmarkPredictor(Predictor[LandmarkResult]):
    """`predict(images, boxes=None)` -> `LandmarkResult` per image.

    Args:
        input_size: the network's crop (height, width) where the run's data settings are not at hand.
    """

    task_kind = "landmarks"
    task: LandmarkTask

    def __init__(
        self,
        task: LandmarkTask,
        settings: Settings,
        data: LightningDataModule | None,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(task, settings, data)
        size = input_size or getattr(data, "input_size", None)
        if size is None:
            raise InputError(
                "hrnet_lit.load: the face crop size is unknown (the checkpoint carries no data settings): "
                "pass input_size=(height, width) or config=<the run's config.yaml>"
            )
        self.transform = FaceTransform(tuple(size), task.flip_pairs, task.codec)

    def predict(  # type: ignore[override]
        self, images: ImageLike | Sequence[ImageLike], boxes: Any = None
    ) -> LandmarkResult | list[LandmarkResult]:
        """`boxes`: per image an (n, 4) array-like of face boxes x1, y1, x2, y2 in its pixels (for one
        image: its boxes; for a list: a list of them, None for the whole image as one face)."""
        single, arrays = self.arrays(images)
        given = [boxes] if single else (boxes if boxes is not None else [None] * len(arrays))
        if len(given) != len(arrays):
            raise InputError(f"boxes has {len(given)} entries for {len(arrays)} images")
        faces = [_faces(array, b, k) for k, (array, b) in enumerate(zip(arrays, given, strict=True))]
        with self.running():
            results = self.predict_faces(arrays, faces)
        return results[0] if single else results

    def predict_faces(self, arrays: list[np.ndarray], faces: list[np.ndarray]) -> list[LandmarkResult]:
        """Every face of every image cropped, batched across images, and gathered per image."""
        num = self.task.hparams.num_landmarks
        samples, owners = [], []
        for k, (array, boxes) in enumerate(zip(arrays, faces, strict=True)):
            image = Image.fromarray(array)
            samples += [face_crop(self.transform, image, box, num) for box in boxes]
            owners += [k] * len(boxes)
        points, scores = [], []
        for part in chunks(len(samples), self.settings.batch_size):
            batch = {
                key: torch.stack([s[key] for s in samples[part]]).to(self.device)
                for key in ("image", "center", "scale")
            }
            found, score = face_landmarks(self.task, batch["image"], batch["center"], batch["scale"])
            points.append(found.cpu())
            scores.append(score.float().cpu())
        owner = np.array(owners, dtype=int)
        all_points = torch.cat(points).numpy() if points else np.zeros((0, num, 2), np.float32)
        all_scores = torch.cat(scores).numpy() if scores else np.zeros((0, num), np.float32)
        return [
            LandmarkResult(all_points[owner == k], all_scores[owner == k], _xyxy(faces[k]))
            for k in range(len(arrays))
        ]


def _faces(array: np.ndarray, boxes: Any, index: int) -> np.ndarray:
    """(n, 4) x, y, w, h of one image's faces: `boxes` (x1, y1, x2, y2), or the whole image."""
    if boxes is None:
        return np.array([[0.0, 0.0, float(array.shape[1]), float(array.shape[0])]])
    found = np.asarray(boxes, dtype=np.float64)
    if found.ndim != 2 or found.shape[1] not in (4, 5) or not np.isfinite(found).all():
        raise InputError(
            f"boxes of image {index}: expected (n, 4) finite x1, y1, x2, y2, got shape {found.shape}"
        )
    size = found[:, 2:4] - found[:, :2]
    if (size <= 0).any():
        raise InputError(f"boxes of image {index}: a box has no area (x2 <= x1 or y2 <= y1)")
    return np.concatenate([found[:, :2], size], axis=1)


def _xyxy(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:4]], axis=1)
