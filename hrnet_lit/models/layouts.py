"""Where the task layers and necks of released HRNet checkpoints go in an `HRNetModel`.

The backbones of the official HRNet repositories, timm and OpenMMLab (mmpose, mmseg, mmdet) share
one key layout, ours (their `model.` / `module.` / `backbone.` wrappers are stripped on reading);
what differs is the name of the layer on top. Each rule renames one such layer's keys; a key that
no rule and no model key matches is reported as unused, never loaded by guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Rename:
    """Keys matching `pattern` (after the wrappers are stripped) go to `target` (a `re.sub` template)."""

    pattern: str
    target: str

    def apply(self, key: str) -> str | None:
        match = re.fullmatch(self.pattern, key)
        return match.expand(self.target) if match else None


RENAMES: tuple[Rename, ...] = (
    Rename(r"last_layer\.(.+)", r"task_layer.\1"),  # HRNet-Semantic-Segmentation
    Rename(r"final_layer\.(.+)", r"task_layer.\1"),  # deep-high-resolution-net (pose)
    Rename(r"head\.(\d+\..+)", r"task_layer.\1"),  # HRNet-Facial-Landmark-Detection
    Rename(r"keypoint_head\.final_layer\.(.+)", r"task_layer.\1"),  # mmpose 0.x TopdownHeatmapSimpleHead
    Rename(r"head\.final_layer\.(.+)", r"task_layer.\1"),  # mmpose 1.x HeatmapHead
    Rename(r"decode_head\.convs\.0\.conv\.(.+)", r"task_layer.0.\1"),  # mmseg FCNHead, num_convs=1
    Rename(r"decode_head\.convs\.0\.bn\.(.+)", r"task_layer.1.\1"),
    Rename(r"decode_head\.conv_seg\.(.+)", r"task_layer.3.\1"),
    Rename(r"neck\.reduction_conv\.conv\.(.+)", r"head.reduction_conv.\1"),  # mmdet HRFPN
    Rename(r"neck\.fpn_convs\.(\d+)\.conv\.(.+)", r"head.fpn_convs.\1.\2"),
)

# Keys that hold no network weight: the official segmentation code saves its loss (the class
# weights of its criterion) with the model.
IGNORED_PREFIXES = ("loss.",)

# A conv followed by BatchNorm that OpenMMLab builds without a bias (ConvModule's `bias="auto"`),
# where ours has one: the bias is zero, which computes the same function.
BIAS_FREE = (r"decode_head\.convs\.0\.conv\.weight",)


def candidates(key: str, renames: bool = True) -> list[str]:
    """Where a non-backbone `key` may live in an `HRNetModel` (or a detector's pyramid), in order:
    where a fit checkpoint had it, under the classification head (`incre_modules`, `classifier`,
    ... of the official classifier and timm), then, with `renames` (a released file, not a fit
    checkpoint: ours has HRNet-C's own `head.final_layer`), where a rename puts it."""
    names = [key, f"head.{key}"]
    if renames:
        names += [name for rule in RENAMES if (name := rule.apply(key)) is not None]
    return names


def add_implied_biases(state: dict[str, torch.Tensor]) -> list[str]:
    """Give the bias-free convs of `state` their zero bias (in place); returns the keys added."""
    added = []
    for key in list(state):
        if any(re.fullmatch(pattern, key) for pattern in BIAS_FREE):
            bias = key.removesuffix("weight") + "bias"
            if bias not in state:
                state[bias] = torch.zeros(state[key].shape[0], dtype=state[key].dtype)
                added.append(bias)
    return added
