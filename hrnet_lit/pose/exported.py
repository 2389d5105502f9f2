"""A heatmap task (pose, landmarks) as one ONNX-ready model: uint8 RGB crops in, the evaluation
heatmaps (with the task's flip test) and the decoded points in the crop's pixels out."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from hrnet_lit.common.exportable import WholeModel
from hrnet_lit.common.normalize import normalize_batch
from hrnet_lit.pose.affine import PIXEL_STD
from hrnet_lit.pose.codec import (
    argmax_joints,
    dark_kernel,
    dark_offset,
    quarter_offset,
)
from hrnet_lit.pose.heatmap_task import HeatmapTask


class ExportedHeatmapModel(WholeModel):
    """uint8 RGB crops (N, 3, H, W) -> `heatmaps` (N, K, h, w) and `keypoints` (N, K, 3: x, y in the
    crop's pixels, the heatmap maximum), decoded by the task's codec: argmax and the official
    quarter-pixel shift, or DARK, whose blur size (`dark_kernel`) is fixed from the heatmap width at
    the export's `input_size`. Normalised inside with the ImageNet statistics.

    Heatmap pixels map to the crop as the task maps them to the image (`to_image`, the official
    `transform_preds`) for a crop whose box is the crop itself: scaled by the crop's width over the
    heatmap's on both axes, about the centres (where the two ratios differ, at a size the stride
    does not divide, y keeps the width's ratio, as the official map does)."""

    output_names = ("heatmaps", "keypoints")
    dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {
        "image_uint8_rgb": {0: "batch", 2: "height", 3: "width"},
        "heatmaps": {0: "batch", 2: "heatmap_height", 3: "heatmap_width"},
        "keypoints": {0: "batch"},
    }

    def __init__(self, task: HeatmapTask, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.task = task
        self.dark_kernel = dark_kernel(heatmap_width(task, input_size)) if task.codec.dark else 0

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        heatmaps = self.task.heatmaps(normalize_batch(image))
        coords, values = argmax_joints(heatmaps)
        if self.dark_kernel:
            coords = dark_offset(heatmaps, coords, self.dark_kernel)
        else:
            coords = quarter_offset(heatmaps, coords)
        h, w = heatmaps.shape[-2:]
        step = image.shape[-1] / w  # the crop's width over the heatmap's, on both axes, as `to_image`
        x = coords[..., 0] * step
        y = (coords[..., 1] - h / 2) * step + image.shape[-2] / 2
        return heatmaps, torch.stack([x, y, values], dim=-1)


def heatmap_width(task: HeatmapTask, input_size: tuple[int, int]) -> int:
    """The width of the task's heatmaps for crops of `input_size`, its network's mode left as it was."""
    training = task.net.training
    try:
        with torch.no_grad():
            return task.net.eval()(torch.zeros(1, 3, *input_size)).shape[-1]
    finally:
        task.net.train(training)


def whole_model(task: HeatmapTask, input_size: tuple[int, int]) -> ExportedHeatmapModel:
    """The task's whole inference; `input_size` (the export's example) sizes DARK's blur."""
    return ExportedHeatmapModel(task, input_size)


@torch.no_grad()
def reference(task: HeatmapTask, image: Tensor) -> dict[str, Tensor]:
    """What the exported model computes (the task in eval mode), by the task's own code: its
    evaluation heatmaps (`HeatmapTask.heatmaps`) decoded by `HeatmapTask.decode` into a crop whose
    centre and scale are the crop's own, so that the points come out in the crop's pixels."""
    n, _, h, w = image.shape
    heatmaps = task.heatmaps(normalize_batch(image))
    center = torch.tensor([w / 2, h / 2]).expand(n, 2)
    scale = torch.tensor([w / PIXEL_STD, h / PIXEL_STD]).expand(n, 2)
    xy, values = task.decode(heatmaps, center, scale)
    return {"heatmaps": heatmaps, "keypoints": torch.cat([xy, values.unsqueeze(-1)], dim=-1)}
