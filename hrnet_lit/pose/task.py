"""Top-down human pose estimation (the official HRNet pose network) as a LightningModule."""

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
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.pose import network
from hrnet_lit.pose.codec import Decode, HeatmapCodec, decode_heatmaps, task_codec
from hrnet_lit.pose.contract import POSE_CONTRACT, PoseData
from hrnet_lit.pose.heatmap_task import Batch, HeatmapTask, parsed_codec
from hrnet_lit.pose.loss import joints_mse
from hrnet_lit.pose.metrics import PCK, COCOKeypointAP
from hrnet_lit.pose.network import PoseHead
from hrnet_lit.pose.pckh import PCKh
from hrnet_lit.pose.predictor import draw_skeleton, pose_keypoints, pose_result

LOGGED = ("AP", "AP50", "AP75", "AR")


def linked_codec(codec: Any, decode: Decode | None) -> dict[str, Any]:
    """The task's codec (`model.codec`, parsed, or from `model.decode`) as the data module's `codec`."""
    return asdict(task_codec(parsed_codec(codec), decode))


class PoseTask(HeatmapTask):
    """Heatmap regression of K joints in person crops, scored by PCK and COCO OKS AP.

    The task's `codec` (a `HeatmapCodec`: sigma, DARK) encodes the data's targets and decodes the
    heatmaps: the CLI links it into the data module. Training: Gaussian targets with per-joint weights,
    the official `0.5 * MSE(pred * w, gt * w)`. Evaluation: optional flip test (mirrored crop, left /
    right swapped, shifted one pixel), decoding by argmax with the official quarter-pixel shift or by
    DARK, joints
    mapped back to the image; `val/PCK` (within `pck_thre` of the box's longer side, ground-truth
    boxes only), `val/PCKh` and `val/PCKh@0.1` where the data gives head sizes (MPII), and `val/AP`,
    `val/AP50`, `val/AP75`, `val/AR` from COCOeval with the official rescoring and OKS NMS. `predict`
    draws the skeletons on each image and writes `keypoints.json` (COCO keypoint results). The
    defaults are the official COCO recipe (Adam, lr 1e-3, no weight decay, x0.1 at epochs 170 and 200).

    Args:
        backbone: the HRNet variant; the official pose network upsamples `nearest` in its fusions.
        head: `v1` (official) or `v2`.
        num_joints, joint_names, flip_pairs, sigmas, skeleton: set from the data module.
        codec: the heatmap codec: `sigma` of the targets (official: 2 at 256x192, 3 at 384x288) and
            `dark` (DARK's sub-pixel targets and Taylor decoding) or not (official).
        decode: the old key of `codec.dark` (`standard` or `dark`), accepted where it agrees with it.
        flip_test: average with the flipped crop's heatmaps (official test setting).
        shift_heatmap: shift the flipped heatmaps one pixel right (official with flip test).
        in_vis_thre: joints above this confidence count in the rescoring (official 0.2).
        oks_thre: OKS NMS threshold (official 0.9).
        pck_thre: PCK's fraction of the box's longer side.
        task_kwargs: `pretrained`, `momentum`, `poly_power`, `warmup_epochs`, `min_lr`, ...: see `HRNetTask`.
    """

    architecture = ("backbone", "head", "num_joints")
    output_arg = network.OUTPUT_ARG
    kind = "pose"
    contract = POSE_CONTRACT
    data_args = contract.task_args
    data: PoseData
    monitor = "val/AP"
    metrics = (
        *TRAIN_METRICS,
        "val/loss",
        *(f"val/{name}" for name in LOGGED),
        "val/PCK",
        "val/PCKh",  # MPII
        "val/PCKh@0.1",
    )
    default_data = "hrnet_lit.pose.data.SyntheticPoseDataModule"

    build_network = staticmethod(network.build_network)
    heatmap_loss = staticmethod(joints_mse)

    def __init__(
        self,
        backbone: BackboneConfig = network.BACKBONE,
        head: PoseHead = network.HEAD,
        num_joints: int = network.NUM_JOINTS,
        joint_names: list[str] | None = None,
        flip_pairs: list[list[int]] | None = None,
        sigmas: list[float] | None = None,
        skeleton: list[list[int]] | None = None,
        codec: HeatmapCodec | None = None,
        decode: Decode | None = None,
        flip_test: bool = True,
        shift_heatmap: bool = True,
        in_vis_thre: float = 0.2,
        oks_thre: float = 0.9,
        pck_thre: float = 0.05,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str = "multistep",
        decay_milestones: list[int] | None = [170, 200],  # noqa: B006 (read only)
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
        self.save_hyperparameters()
        self.codec = task_codec(codec, decode)
        self.net = self.build_network(backbone=backbone, head=head, num_joints=num_joints)
        self.joint_names = joint_names or [str(k) for k in range(num_joints)]
        self.flip_pairs = [list(p) for p in flip_pairs or []]
        self.sigmas = list(sigmas) if sigmas is not None else [0.05] * num_joints
        self.skeleton = [list(e) for e in skeleton or []]
        for key, values in (("joint_names", self.joint_names), ("sigmas", self.sigmas)):
            if len(values) != num_joints:
                raise InputError(f"model.{key} has {len(values)} entries for {num_joints} joints")
        self.flip_test = flip_test
        self.shift_heatmap = shift_heatmap
        self.val_pck, self.test_pck = PCK(pck_thre), PCK(pck_thre)
        self.val_pckh, self.test_pckh = PCKh(num_joints), PCKh(num_joints)
        self.val_ap = COCOKeypointAP(self.sigmas, in_vis_thre, oks_thre)
        self.test_ap = COCOKeypointAP(self.sigmas, in_vis_thre, oks_thre)
        self._predicted: dict[str, list[tuple[np.ndarray, ...]]] = {}

    @classmethod
    def data_links(cls) -> dict[str, tuple[tuple[str, ...], Callable[..., Any]]]:
        """The data module's `codec` is the task's: its targets are what the task decodes."""
        return {"codec": (("codec", "decode"), linked_codec)}

    def keypoints(self, heatmaps: torch.Tensor, center: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Joints (N, K, 3: x, y, confidence) in image pixels."""
        xy, values = self.decode(heatmaps, center, scale)
        return torch.cat([xy, values.unsqueeze(-1)], dim=-1)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_pck, self.val_ap)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_pck, self.test_ap)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_pck, self.val_ap)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_pck, self.test_ap)

    def _evaluate(self, batch: Batch, stage: str, pck: PCK, ap: COCOKeypointAP) -> None:
        heatmaps = self.evaluation_heatmaps(batch, stage)
        keypoints = self.keypoints(heatmaps, batch["center"], batch["scale"])
        if not self._detections():
            pck.update(keypoints[..., :2], batch["joints"], batch["box"])
            if "head_size" in batch:
                self._pckh(stage).update(keypoints[..., :2], batch["joints"], batch["head_size"])
        ap.update(keypoints, batch["scale"], batch["score"], batch["image_id"])

    def _pckh(self, stage: str) -> PCKh:
        return self.val_pckh if stage == "val" else self.test_pckh

    def _detections(self) -> bool:
        return bool(self.data.uses_detections)

    def _log_metrics(self, stage: str, pck: PCK, ap: COCOKeypointAP) -> None:
        data = self.data
        ap.ground_truth = data.ground_truth(stage)
        ap.expected = len(data.dataset(stage))
        values = ap.compute()
        self.log(f"{stage}/AP", values["AP"], prog_bar=True)
        self.log_dict({f"{stage}/{name}": values[name] for name in LOGGED[1:]})
        if not self._detections():
            self.log(f"{stage}/PCK", pck.compute(), prog_bar=True)
        pckh = self._pckh(stage)
        if pckh.update_count:
            self.log_dict({f"{stage}/{name}": value for name, value in pckh.compute().items()})
        pckh.reset()
        pck.reset()
        ap.reset()

    def panel_points(
        self, batch: Batch, heatmaps: torch.Tensor, count: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The joints of the target (shown where their weight is set) and the predicted ones with their
        confidences, for the skeletons."""
        truth, _ = decode_heatmaps(batch["target"][:count].float())
        guess, confidence = self.codec.decode(heatmaps.float())
        weight = batch["target_weight"][:count].reshape(truth.shape[:2]).float()
        shown = torch.cat([truth, weight.unsqueeze(-1)], dim=-1)
        return shown, torch.cat([guess, confidence.unsqueeze(-1)], dim=-1)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Person crops -> their keypoints in image pixels, as the Python predictor's."""
        return {
            "keypoints": pose_keypoints(self, batch["image"], batch["center"], batch["scale"]),
            "scale": batch["scale"],
            "score": batch["score"],
            "box": batch["box"],
            "paths": batch["path"],
            "person": batch["person"],
        }

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        """Collect each image's persons; the images are drawn once all of their boxes are in. An image
        without a person (no detector box on it) is kept, with none."""
        for keypoints, scale, score, box, path, person in zip(
            prediction["keypoints"].cpu().numpy(),
            prediction["scale"].cpu().numpy(),
            prediction["score"].cpu().numpy(),
            prediction["box"].cpu().numpy(),
            prediction["paths"],
            prediction["person"].cpu().tolist(),
            strict=True,
        ):
            persons = self._predicted.setdefault(path, [])
            if person:
                persons.append((keypoints, scale, score, box))

    def finish_predictions(self, folder: Path) -> None:
        """`<stem>.png` per image with its skeletons, and `keypoints.json` in COCO's keypoint results
        format (plus each person's `bbox`, x, y, w, h, and `file_name`), each image's persons rescored
        and OKS-NMSed (`pose_result`, as the Python predictor)."""
        results = []
        for index, (path, persons) in enumerate(self._predicted.items()):
            found = pose_result(self, *(_stacked([p[j] for p in persons], shape) for j, shape in _FIELDS))
            stem = Path(path).stem
            image_id = int(stem) if stem.isdigit() else index
            results += [
                {
                    "image_id": image_id,
                    "category_id": 1,
                    "keypoints": [float(v) for v in joints.reshape(-1)],
                    "score": float(score),
                    "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                    "file_name": Path(path).name,
                }
                for joints, score, (x1, y1, x2, y2) in zip(
                    found.keypoints, found.scores, found.boxes, strict=True
                )
            ]
            canvas = found.draw(np.asarray(read_rgb(Path(path))))
            save_atomically(Image.fromarray(canvas), folder / f"{stem}.png", "PNG")
        with atomic_path(folder / "keypoints.json") as temp:
            temp.write_text(json.dumps(results))

    def draw_panel(self, canvas: Image.Image, points: np.ndarray, truth: bool) -> None:
        draw_skeleton(canvas, points, self.joint_names, self.skeleton, self.val_ap.in_vis_thre)


# What `write_predictions` keeps of a person, in `pose_result`'s order, and its shape without persons.
_FIELDS = ((0, (0, 0, 3)), (1, (0, 2)), (2, (0,)), (3, (0, 4)))


def _stacked(values: list[np.ndarray], empty: tuple[int, ...]) -> np.ndarray:
    return np.stack(values) if values else np.zeros(empty, dtype=np.float32)
