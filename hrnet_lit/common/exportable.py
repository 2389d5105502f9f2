"""What a task's whole inference looks like to ONNX export: one module that takes uint8 RGB images,
normalises them itself and returns the task's results, with the names and dynamic axes it exports
under. Each task's `exported` module builds one (`whole_model`) and computes its PyTorch reference
(`reference`) with the task's own inference code."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn


class WholeModel(nn.Module):
    """A task's inference from uint8 RGB pixels (0 ... 255; the input's name says so) to its results.

    `batched`: the input is (N, 3, H, W); else one image (3, H, W). Exported by tracing, so every
    size the forward uses must come from a traced shape, not a Python number."""

    input_names: ClassVar[tuple[str, ...]] = ("image_uint8_rgb",)
    output_names: ClassVar[tuple[str, ...]]
    dynamic_axes: ClassVar[dict[str, dict[int, str]]]
    batched: ClassVar[bool] = True

    def example(self, input_size: tuple[int, int]) -> Tensor:
        """The input that the exporter traces through: random uint8 pixels of `input_size` (H, W),
        two images where the model takes a batch (so that the batch stays dynamic)."""
        shape = (2, 3, *input_size) if self.batched else (3, *input_size)
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
