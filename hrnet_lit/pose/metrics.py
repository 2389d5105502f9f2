"""Pose metrics: PCK (torchmetrics) and COCO OKS AP through pycocotools' COCOeval, with the official
rescoring and OKS NMS; both gather across processes like any torchmetrics Metric."""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from typing import Any

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import Tensor
from torchmetrics import Metric

from hrnet_lit.pose.affine import PIXEL_STD

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


class PCK(Metric):
    """Share of labelled joints predicted within `threshold` x the longer side of the person's box."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, threshold: float = 0.05) -> None:
        super().__init__()
        self.threshold = threshold
        self.add_state("correct", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, joints: Tensor, box: Tensor) -> None:
        """pred (N, K, 2) and joints (N, K, 3: x, y, visibility) in image pixels, box (N, 4: x, y, w, h)."""
        labelled = joints[..., 2] > 0
        size = box[:, 2:].amax(dim=1, keepdim=True)
        close = (pred - joints[..., :2]).norm(dim=-1) <= self.threshold * size
        self.correct += (close & labelled).sum()
        self.total += labelled.sum()

    def compute(self) -> Tensor:
        return self.correct / self.total.clamp_min(1)


def oks_nms(
    keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, sigmas: np.ndarray, thre: float
) -> list[int]:
    """Indices kept by the official greedy `oks_nms`: by score, drop persons whose OKS with a kept one
    exceeds `thre`. keypoints (P, K, 3), areas (P,) as the official s[0] * s[1] * 200^2.

    The order is the official `scores.argsort()[::-1]`: of two equal scores the later person comes
    first (numpy sorts a short array stably; here every length is sorted stably)."""
    order = [int(i) for i in np.argsort(scores, kind="stable")[::-1]]
    variances = (2 * sigmas) ** 2
    keep = []
    while order:
        i, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(i))
        if len(rest) == 0:
            break
        d2 = ((keypoints[rest, :, :2] - keypoints[i, :, :2]) ** 2).sum(-1)
        e = d2 / variances / ((areas[i] + areas[rest])[:, None] / 2 + np.spacing(1)) / 2
        oks = np.exp(-e).mean(axis=1)
        order = [int(j) for j in rest[oks <= thre]]
    return keep


def rescore(keypoints: np.ndarray, score: np.ndarray, in_vis_thre: float) -> np.ndarray:
    """The official person score: the box score times the mean confidence of the joints above
    `in_vis_thre` (keypoints (P, K, 3), score (P,))."""
    confident = keypoints[..., 2] > in_vis_thre
    joint_score = np.where(confident, keypoints[..., 2], 0.0).sum(1) / np.maximum(confident.sum(1), 1)
    return joint_score * score


class COCOKeypointAP(Metric):
    """COCO OKS AP / AR of top-down predictions, as the official `evaluate`: each person's score is
    its box score times the mean of its joint confidences above `in_vis_thre`; per image, OKS NMS at
    `oks_thre`; then COCOeval (iouType keypoints, the data's sigmas) against `ground_truth`.

    Set `ground_truth` (the split's COCO annotations), `use_nms` and `expected` (the split's number
    of crops) before `compute`. When fewer crops came in (e.g. `--trainer.limit_val_batches`), only
    images with a prediction are scored; otherwise every annotated image is.
    """

    higher_is_better = True
    full_state_update = False

    def __init__(self, sigmas: list[float], in_vis_thre: float = 0.2, oks_thre: float = 0.9) -> None:
        super().__init__()
        self.sigmas = np.asarray(sigmas, dtype=np.float64)
        self.in_vis_thre = in_vis_thre
        self.oks_thre = oks_thre
        self.ground_truth: COCO | None = None
        self.use_nms = True
        self.expected: int | None = None
        for name in ("keypoints", "scale", "score", "image_id"):
            self.add_state(name, [], dist_reduce_fx="cat")

    def update(self, keypoints: Tensor, scale: Tensor, score: Tensor, image_id: Tensor) -> None:
        """keypoints (N, K, 3: x, y, confidence) in image pixels, crop scale (N, 2), box score (N,)."""
        self.keypoints.append(keypoints.detach().float())
        self.scale.append(scale.detach().float())
        self.score.append(score.detach().float())
        self.image_id.append(image_id.detach().long())

    def _cat(self, state: Any) -> np.ndarray:
        if isinstance(state, Tensor):
            return state.cpu().numpy()
        return torch.cat(state).cpu().numpy() if state else np.zeros((0,))

    def results(self, category_id: int = 1, use_nms: bool = True) -> list[dict[str, Any]]:
        """The rescored (and OKS-NMSed) predictions in COCO's keypoint results format."""
        keypoints, scale = self._cat(self.keypoints), self._cat(self.scale)
        score, image_id = self._cat(self.score), self._cat(self.image_id)
        if len(image_id) == 0:
            return []
        rescored = rescore(keypoints, score, self.in_vis_thre)
        areas = scale[:, 0] * scale[:, 1] * PIXEL_STD**2
        by_image: dict[int, list[int]] = defaultdict(list)
        for k, image in enumerate(image_id.tolist()):
            by_image[image].append(k)
        results = []
        for image, members in by_image.items():
            idx = np.array(members)
            keep = range(len(idx))
            if use_nms:
                keep = oks_nms(keypoints[idx], rescored[idx], areas[idx], self.sigmas, self.oks_thre) or keep
            for j in keep:
                k = idx[j]
                results.append(
                    {
                        "image_id": int(image),
                        "category_id": category_id,
                        "keypoints": [float(v) for v in keypoints[k].reshape(-1)],
                        "score": float(rescored[k]),
                    }
                )
        return results

    def compute(self) -> dict[str, Tensor]:
        """COCOeval's ten keypoint statistics (0 where an area range has no person)."""
        if self.ground_truth is None:
            raise RuntimeError("COCOKeypointAP.ground_truth is not set")
        ground_truth = self.ground_truth
        category = next(c["id"] for c in ground_truth.dataset["categories"] if c.get("keypoints"))
        results = self.results(category, self.use_nms)
        if not results:
            return {name: torch.tensor(0.0) for name in STAT_NAMES}
        seen = len(self._cat(self.image_id))
        with contextlib.redirect_stdout(io.StringIO()):
            detections = ground_truth.loadRes(results)
            coco_eval = COCOeval(ground_truth, detections, "keypoints")
            coco_eval.params.kpt_oks_sigmas = self.sigmas
            if self.expected is None or seen < self.expected:
                coco_eval.params.imgIds = sorted({r["image_id"] for r in results})
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        return {
            name: torch.tensor(max(float(v), 0.0))
            for name, v in zip(STAT_NAMES, coco_eval.stats, strict=True)
        }
