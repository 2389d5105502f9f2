"""Top-down pose from Python: per person its keypoints (x, y, score in the image's pixels) and its box.

Persons come from the whole image (the default), from given boxes, or from a person detector
(`detector(image: uint8 (3, H, W)) -> (n, 5) x1, y1, x2, y2, score`). Each person is cropped as the
data's predict folder crops it (`TopDownTransform`); `predict_step` and `finish_predictions` call the
same `pose_keypoints` and `pose_result`, so `hrnet-lit predict` writes what the predictor returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from PIL import Image, ImageDraw
from torch import Tensor

from hrnet_lit.common.predictor import ImageLike, Predictor, Settings, chunks, network_input
from hrnet_lit.errors import InputError
from hrnet_lit.pose.affine import PIXEL_STD, box_to_center_scale
from hrnet_lit.pose.data.transforms import Person, TopDownTransform
from hrnet_lit.pose.metrics import oks_nms, rescore
from hrnet_lit.pose.person_detector import load_person_detector

if TYPE_CHECKING:
    from hrnet_lit.pose.task import PoseTask

PersonDetector = Callable[[Tensor], Tensor]
"""uint8 image (3, H, W) -> (n, 5) boxes x1, y1, x2, y2 and their scores."""

_LEFT, _RIGHT, _MIDDLE = (235, 60, 40), (40, 90, 235), (60, 190, 70)


def draw_skeleton(
    image: Image.Image, joints: np.ndarray, joint_names: list[str], skeleton: list[list[int]], thre: float
) -> None:
    """Limbs and joints (K, 3: x, y, score) scoring above `thre` on `image`; left side warm, right side
    cool, the middle green."""
    draw = ImageDraw.Draw(image)
    shown = joints[:, 2] > thre
    width = max(1, round(min(image.size) / 150))

    def colour(k: int) -> tuple[int, int, int]:
        name = joint_names[k].lower()
        return _LEFT if "left" in name else _RIGHT if "right" in name else _MIDDLE

    for a, b in skeleton:
        if shown[a] and shown[b]:
            draw.line([tuple(joints[a, :2]), tuple(joints[b, :2])], fill=colour(b), width=width)
    for k in np.flatnonzero(shown):
        x, y = joints[k, :2]
        r = width + 1
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour(int(k)))


@dataclass
class PoseResult:
    """One image's persons, best first: `keypoints` (P, K, 3: x, y, score, image pixels), `boxes`
    (P, 4: x1, y1, x2, y2), `scores` (P,: the box score times the mean confident joint score, as COCO's
    keypoint results), after OKS NMS. An image without a person has P = 0."""

    keypoints: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    joint_names: list[str]
    skeleton: list[list[int]]
    in_vis_thre: float

    def to_json(self) -> dict[str, Any]:
        persons = [
            {"box": box.tolist(), "score": float(score), "keypoints": joints.tolist()}
            for joints, box, score in zip(self.keypoints, self.boxes, self.scores, strict=True)
        ]
        return {"task": "pose", "joint_names": list(self.joint_names), "persons": persons}

    def draw(self, image: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 image with each person's skeleton (joints scoring above `in_vis_thre`)."""
        canvas = Image.fromarray(image)
        for joints in self.keypoints:
            draw_skeleton(canvas, joints, self.joint_names, self.skeleton, self.in_vis_thre)
        return np.asarray(canvas)


def pose_keypoints(task: PoseTask, crops: Tensor, center: Tensor, scale: Tensor) -> Tensor:
    """Keypoints (N, K, 3: x, y, score) in image pixels of person crops (uint8, or normalised floats),
    with the task's flip test and decoding."""
    return task.keypoints(task.heatmaps(network_input(crops)).float(), center, scale)


def pose_result(
    task: PoseTask, keypoints: np.ndarray, scale: np.ndarray, score: np.ndarray, boxes: np.ndarray
) -> PoseResult:
    """One image's persons (keypoints (P, K, 3), crop scale (P, 2), box score (P,), boxes (P, 4: x, y,
    w, h)) rescored and OKS-NMSed as the official evaluation (`in_vis_thre`, `oks_thre`)."""
    metric = task.val_ap
    keep: list[int] = []
    rescored = np.zeros(0, dtype=np.float32)
    if len(keypoints):
        rescored = rescore(keypoints, score, metric.in_vis_thre)
        areas = scale[:, 0] * scale[:, 1] * PIXEL_STD**2
        keep = oks_nms(keypoints, rescored, areas, metric.sigmas, metric.oks_thre) or list(
            range(len(keypoints))
        )
    boxes = boxes.astype(np.float32)  # as a predict batch carries them, so both paths give one box
    xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:4]], axis=1) if len(boxes) else boxes
    return PoseResult(
        keypoints[keep].reshape(-1, task.hparams.num_joints, 3),
        xyxy[keep].reshape(-1, 4),
        rescored[keep],
        list(task.joint_names),
        [list(e) for e in task.skeleton],
        metric.in_vis_thre,
    )


class PosePredictor(Predictor[PoseResult]):
    """`predict(images, boxes=None)` -> `PoseResult` per image.

    Args:
        detector: a person detector (`PersonDetector`), or the file of one (a detection checkpoint or
            torchvision weights, read by `load_person_detector` onto the predictor's device), run on
            each image that `predict` is given no boxes for; without one, the whole image is one person.
        image_thre: detector boxes scoring below it are dropped (official 0.0).
        input_size: the network's crop (height, width) where the run's data settings are not at hand.
    """

    task_kind = "pose"
    task: PoseTask

    def __init__(
        self,
        task: PoseTask,
        settings: Settings,
        data: LightningDataModule | None,
        detector: str | Path | PersonDetector | None = None,
        image_thre: float = 0.0,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(task, settings, data)
        size = input_size or getattr(data, "input_size", None)
        if size is None:
            raise InputError(
                "hrnet_lit.load: the pose crop size is unknown (the checkpoint carries no data settings): "
                "pass input_size=(height, width) or config=<the run's config.yaml>"
            )
        self.transform = TopDownTransform(tuple(size), task.flip_pairs, task.codec)
        if isinstance(detector, str | Path):
            detector = load_person_detector(detector, image_thre, settings.device, key="detector")
        self.detector = detector
        self.image_thre = image_thre

    def predict(  # type: ignore[override]
        self, images: ImageLike | Sequence[ImageLike], boxes: Any = None
    ) -> PoseResult | list[PoseResult]:
        """`boxes`: per image an (n, 4) or (n, 5) array-like of x1, y1, x2, y2 (and score) in its pixels
        (for one image: its boxes; for a list: a list of them, None where the detector or the whole
        image decides)."""
        single, arrays = self.arrays(images)
        given = [boxes] if single else (boxes if boxes is not None else [None] * len(arrays))
        if len(given) != len(arrays):
            raise InputError(f"boxes has {len(given)} entries for {len(arrays)} images")
        with self.running():
            persons = [
                self.persons(array, b, k) for k, (array, b) in enumerate(zip(arrays, given, strict=True))
            ]
            results = self.predict_persons(arrays, persons)
        return results[0] if single else results

    def persons(self, array: np.ndarray, boxes: Any, index: int) -> np.ndarray:
        """(n, 5) x, y, w, h, score of the persons to crop from one image."""
        height, width = array.shape[:2]
        if boxes is None and self.detector is not None:
            image = torch.from_numpy(array).permute(2, 0, 1).to(self.device)
            boxes = self.detector(image).detach().float().cpu().numpy().reshape(-1, 5)
            boxes = boxes[boxes[:, 4] >= self.image_thre]
        elif boxes is None:
            return np.array([[0.0, 0.0, float(width), float(height), 1.0]])
        found = np.asarray(boxes, dtype=np.float64)
        if found.ndim != 2 or found.shape[1] not in (4, 5) or not np.isfinite(found).all():
            raise InputError(
                f"boxes of image {index}: expected (n, 4) or (n, 5) finite x1, y1, x2, y2[, score], "
                f"got shape {found.shape}"
            )
        if found.shape[1] == 4:
            found = np.concatenate([found, np.ones((len(found), 1))], axis=1)
        size = found[:, 2:4] - found[:, :2]
        if (size <= 0).any():
            raise InputError(f"boxes of image {index}: a box has no area (x2 <= x1 or y2 <= y1)")
        return np.concatenate([found[:, :2], size, found[:, 4:]], axis=1)

    def predict_persons(self, arrays: list[np.ndarray], persons: list[np.ndarray]) -> list[PoseResult]:
        """Every person of every image cropped, batched across images, and gathered per image."""
        samples, owners = [], []
        for k, (array, boxes) in enumerate(zip(arrays, persons, strict=True)):
            image = Image.fromarray(array)
            for box in boxes:
                center, scale = box_to_center_scale(box[:4], self.transform.aspect_ratio)
                joints = np.zeros((self.task.hparams.num_joints, 3))
                samples.append(self.transform(image, Person(center, scale, joints, box[:4], box[4], k, -1)))
                owners.append(k)
        found = []
        for part in chunks(len(samples), self.settings.batch_size):
            batch = {
                key: torch.stack([s[key] for s in samples[part]]).to(self.device)
                for key in ("image", "center", "scale")
            }
            found.append(pose_keypoints(self.task, batch["image"], batch["center"], batch["scale"]).cpu())
        keypoints = torch.cat(found).numpy() if found else np.zeros((0, self.task.hparams.num_joints, 3))
        scale = np.stack([s["scale"].numpy() for s in samples]) if samples else np.zeros((0, 2))
        score = np.array([float(s["score"]) for s in samples], dtype=np.float32)
        owner = np.array(owners, dtype=int)
        return [
            pose_result(
                self.task, keypoints[owner == k], scale[owner == k], score[owner == k], persons[k][:, :4]
            )
            for k in range(len(arrays))
        ]
