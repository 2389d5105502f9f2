"""What every heatmap task (pose, landmarks) does alike: it owns the `HeatmapCodec` its data module
encodes with, normalises the `uint8` crops its data hands over on its own device, evaluates with an
optional flip test, decodes heatmaps back to image pixels and draws its validation panels as
input | truth | prediction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from hrnet_lit.common.normalize import denormalize, normalize_batch
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.errors import InputError
from hrnet_lit.pose.codec import HeatmapCodec, flip_back, shift_right, to_image

Batch = dict[str, Tensor]


def parsed_codec(codec: Any) -> HeatmapCodec | None:
    """`model.codec` as the CLI links it: parsed, it is a namespace of its fields (or `init_args`)."""
    if codec is not None and not isinstance(codec, HeatmapCodec):
        codec = HeatmapCodec(**vars(codec.get("init_args", codec)))
    return codec


class HeatmapTask(HRNetTask):
    """A task that regresses one heatmap per point in a crop. A subclass sets `codec`, `flip_pairs`,
    `flip_test` and `shift_heatmap` in its constructor, names its `heatmap_loss`, and draws its points
    (`panel_points`, `draw_panel`)."""

    heatmap_loss: ClassVar[Callable[[Tensor, Tensor, Tensor], Tensor]]
    codec: HeatmapCodec
    flip_pairs: list[list[int]]
    flip_test: bool
    shift_heatmap: bool
    _predicted: dict[str, list[Any]]

    def setup(self, stage: str) -> None:
        """A data module built in Python gets no codec from the CLI: it must encode with the task's."""
        super().setup(stage)
        given = getattr(getattr(self.trainer, "datamodule", None), "codec", None)
        if given is not None and given != self.codec:
            raise InputError(
                f"data.codec {given} is not the task's model.codec {self.codec}: the targets would be "
                "encoded otherwise than they are decoded (give the data module the task's codec)"
            )

    def normalize_inputs(self, batch: Any) -> Any:
        """A batch dict's `uint8` crops (N, 3, H, W), ImageNet-normalised on the device."""
        image = batch.get("image") if isinstance(batch, dict) else None
        if isinstance(image, Tensor) and image.dtype == torch.uint8:
            return {**batch, "image": normalize_batch(image)}
        return batch

    def heatmaps(self, image: Tensor) -> Tensor:
        """Evaluation heatmaps: with `flip_test`, averaged with the mirrored crop's, flipped back."""
        heatmaps = self(image)
        if self.flip_test:
            flipped = flip_back(self(image.flip(-1)), self.flip_pairs)
            if self.shift_heatmap:
                flipped = shift_right(flipped)
            heatmaps = (heatmaps + flipped) * 0.5
        return heatmaps

    def decode(self, heatmaps: Tensor, center: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
        """Points (N, K, 2) in image pixels and their confidences (N, K: the heatmap maxima)."""
        coords, values = self.codec.decode(heatmaps.float())
        return to_image(coords, center, scale, tuple(heatmaps.shape[-2:])), values

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        loss = self.heatmap_loss(self(batch["image"]), batch["target"], batch["target_weight"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        return self.finite_loss(loss)

    def evaluation_heatmaps(self, batch: Batch, stage: str) -> Tensor:
        """The batch's evaluation heatmaps, their loss logged as `<stage>/loss`."""
        heatmaps = self.heatmaps(batch["image"])
        loss = self.heatmap_loss(heatmaps, batch["target"], batch["target_weight"])
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=batch["image"].shape[0])
        return heatmaps

    def panel_points(self, batch: Batch, heatmaps: Tensor, count: int) -> tuple[Tensor, Tensor]:
        """The true and the predicted points of the first `count` crops: (count, K, 2 + extra columns),
        x and y in heatmap pixels."""
        raise NotImplementedError(f"{type(self).__qualname__} names no panel points")

    def draw_panel(self, canvas: Image.Image, points: np.ndarray, truth: bool) -> None:
        """Draw one crop's points (K, 2 + extra columns; x and y in crop pixels) on `canvas`."""
        raise NotImplementedError(f"{type(self).__qualname__} draws no panel points")

    def validation_panels(self, batch: Batch, count: int) -> list[np.ndarray]:
        """The input crop, its true points and the predicted ones (in crop pixels)."""
        images = batch["image"][:count]
        heatmaps = self.heatmaps(images)
        stride = images.shape[-1] / heatmaps.shape[-1]
        truth, guess = self.panel_points(batch, heatmaps, count)
        panels = []
        for k, image in enumerate(images):
            rgb = denormalize(image)
            drawn = []
            for points, is_truth in ((truth[k], True), (guess[k], False)):
                canvas = Image.fromarray(rgb)
                shown = torch.cat([(points[:, :2] + 0.5) * stride - 0.5, points[:, 2:]], dim=-1)
                self.draw_panel(canvas, shown.cpu().numpy(), is_truth)
                drawn.append(np.asarray(canvas))
            panels.append(np.concatenate([rgb, *drawn], axis=1))
        return panels

    def on_predict_epoch_start(self) -> None:
        self._predicted = {}
