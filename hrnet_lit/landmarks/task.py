"""Facial landmark detection (the official HRNetV2 landmark network) as a LightningModule."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hrnet_lit.common.atomic import atomic_path, save_atomically
from hrnet_lit.common.files import read_rgb
from hrnet_lit.common.task import TRAIN_METRICS
from hrnet_lit.errors import InputError
from hrnet_lit.landmarks import network
from hrnet_lit.landmarks.contract import LANDMARK_CONTRACT, LandmarkData
from hrnet_lit.landmarks.loss import heatmap_mse
from hrnet_lit.landmarks.metrics import NME
from hrnet_lit.landmarks.network import LandmarkHead
from hrnet_lit.landmarks.predictor import GUESS, draw_points, face_landmarks
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.pose.codec import HeatmapCodec
from hrnet_lit.pose.heatmap_task import Batch, HeatmapTask, parsed_codec

OFFICIAL_CODEC = HeatmapCodec(sigma=1.5)
_TRUTH = (60, 200, 80)


def task_codec(codec: Any) -> HeatmapCodec:
    """`model.codec` as a HeatmapCodec (parsed, it is a namespace of its fields); the official one
    (sigma 1.5, argmax and quarter offset) when none is given."""
    parsed = parsed_codec(codec)
    return OFFICIAL_CODEC if parsed is None else parsed


class LandmarkTask(HeatmapTask):
    """Heatmap regression of K facial landmarks in face crops, scored by NME (lower is better).

    The task's `codec` (the pose task's `HeatmapCodec`: one codec for both heatmap tasks) encodes the
    data's Gaussian targets and decodes the heatmaps; the CLI links it into the data module. Training:
    the official MSE over all heatmaps. Evaluation: argmax with the official quarter-pixel shift (or
    DARK), landmarks mapped back to the image through the crop's inverse affine map, then `val/NME`
    (normalised as the benchmark defines it: the data module gives each face its normaliser),
    `val/FR@0.10`, `val/AUC@0.10`, and `val/NME_<subset>` for WFLW's attribute subsets when the file
    flags them. `predict` draws the landmarks on each image and writes `landmarks.json`. The defaults
    are the official WFLW recipe (Adam, lr 1e-4, no weight decay, x0.1 at epochs 30 and 50 of 60).

    Args:
        backbone: the HRNet variant (official: W18, bilinear upsampling).
        head: `v2` (official) or `v1` (ablation).
        num_landmarks, flip_pairs: set from the data module.
        codec: `sigma` of the targets in heatmap pixels (official 1.5; 300W 1.0) and `dark`.
        flip_test: average with the mirrored crop's heatmaps (the official landmark test does not).
        shift_heatmap: shift the flipped heatmaps one pixel right (with flip test).
        failure_threshold: the NME above which a face counts as a failure, and the end of the AUC.
        task_kwargs: `pretrained`, `momentum`, `warmup_epochs`, `min_lr`, ...: see `HRNetTask`.
    """

    architecture = ("backbone", "head", "num_landmarks")
    output_arg = network.OUTPUT_ARG
    kind = "landmarks"
    contract = LANDMARK_CONTRACT
    data_args = contract.task_args
    data: LandmarkData
    monitor = "val/NME"
    monitor_mode = "min"
    metrics = (*TRAIN_METRICS, "val/loss", "val/NME", "val/FR@*", "val/AUC@*", "val/NME_*")
    default_data = "hrnet_lit.landmarks.data.SyntheticFaceDataModule"

    build_network = staticmethod(network.build_network)
    heatmap_loss = staticmethod(heatmap_mse)

    def __init__(
        self,
        backbone: BackboneConfig = network.BACKBONE,
        head: LandmarkHead = network.HEAD,
        num_landmarks: int = network.NUM_LANDMARKS,
        flip_pairs: list[list[int]] | None = None,
        codec: HeatmapCodec | None = None,
        flip_test: bool = False,
        shift_heatmap: bool = True,
        failure_threshold: float = 0.10,
        optimizer: str = "adam",
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        scheduler: str = "multistep",
        decay_milestones: list[int] | None = [30, 50],  # noqa: B006 (read only)
        decay_rate: float = 0.1,
        **task_kwargs: Any,
    ) -> None:
        super().__init__(
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            scheduler=scheduler,
            decay_milestones=decay_milestones,
            decay_rate=decay_rate,
            **task_kwargs,
        )
        if not failure_threshold > 0:
            raise InputError(f"model.failure_threshold must be > 0, got {failure_threshold}")
        self.save_hyperparameters()
        self.codec = task_codec(codec)
        self.net = self.build_network(backbone=backbone, head=head, num_landmarks=num_landmarks)
        self.flip_pairs = [list(p) for p in flip_pairs or []]
        self.flip_test = flip_test
        self.shift_heatmap = shift_heatmap
        self.val_nme, self.test_nme = NME(failure_threshold), NME(failure_threshold)
        self._predicted: dict[str, list[np.ndarray]] = {}

    @classmethod
    def data_links(cls) -> dict[str, tuple[tuple[str, ...], Callable[..., Any]]]:
        """The data module's `codec` is the task's: its targets are what the task decodes."""
        return {"codec": (("codec",), lambda codec: asdict(task_codec(codec)))}

    def landmarks(self, heatmaps: torch.Tensor, center: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Landmarks (N, K, 2) in image pixels."""
        return self.decode(heatmaps, center, scale)[0]

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_nme)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_nme)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_nme)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_nme)

    def _evaluate(self, batch: Batch, stage: str, metric: NME) -> None:
        heatmaps = self.evaluation_heatmaps(batch, stage)
        found = self.landmarks(heatmaps, batch["center"], batch["scale"])
        metric.update(found, batch["landmarks"], batch["norm"], batch["weight"], batch["attributes"])

    def _log_metrics(self, stage: str, metric: NME) -> None:
        metric.attribute_names = tuple(self.data.attribute_names)
        values = metric.compute()
        self.log(f"{stage}/NME", values.pop("NME"), prog_bar=True)
        self.log_dict({f"{stage}/{name}": value for name, value in values.items()})
        metric.reset()

    def panel_points(
        self, batch: Batch, heatmaps: torch.Tensor, count: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The landmarks decoded from the target and from the predicted heatmaps."""
        return self.codec.decode(batch["target"][:count].float())[0], self.codec.decode(heatmaps.float())[0]

    def draw_panel(self, canvas: Image.Image, points: np.ndarray, truth: bool) -> None:
        draw_points(canvas, points, _TRUTH if truth else GUESS)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Face crops -> their landmarks and scores in image pixels, as the Python predictor's."""
        landmarks, scores = face_landmarks(self, batch["image"], batch["center"], batch["scale"])
        return {"landmarks": landmarks, "scores": scores, "paths": batch["path"]}

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        """Collect each image's faces; the images are drawn once all of their faces are in."""
        for found, path in zip(prediction["landmarks"].cpu().numpy(), prediction["paths"], strict=True):
            self._predicted.setdefault(path, []).append(found)

    def finish_predictions(self, folder: Path) -> None:
        """`<stem>.png` per image with its faces' landmarks, and `landmarks.json`: per face its image's
        `file_name` and `landmarks` ([x, y] per landmark, image pixels)."""
        results = []
        for path, faces in self._predicted.items():
            canvas = read_rgb(Path(path))
            for found in faces:
                draw_points(canvas, found, GUESS)
                results.append({"file_name": Path(path).name, "landmarks": found.round(2).tolist()})
            save_atomically(canvas, folder / f"{Path(path).stem}.png", "PNG")
        with atomic_path(folder / "landmarks.json") as temp:
            temp.write_text(json.dumps(results))
