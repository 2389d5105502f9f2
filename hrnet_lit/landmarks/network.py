"""The landmark network, without Lightning: `LandmarkTask.build_network` is this builder, and the tools
reach it by the task's name alone. The defaults are the task's own (the official WFLW network)."""

from __future__ import annotations

from typing import Literal, get_args

from torch import nn

from hrnet_lit.models import HRNetModel, PixelClassifier, checks
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.task_layers import heatmap_init
from hrnet_lit.pose.network import heatmap_network

LandmarkHead = Literal["v2", "v1"]
# The official landmark network (HRNetV2-W18) fuses and concatenates with bilinear upsampling.
BACKBONE = BackboneConfig(preset="w18", upsample_mode="bilinear", align_corners=False)
HEAD: LandmarkHead = "v2"
NUM_LANDMARKS = 98  # WFLW
OUTPUT_ARG = "num_landmarks"  # the argument that sizes the output space (HRNetTask.output_arg)


def landmark_layer(in_channels: int, num_landmarks: int, norm: str = "batch") -> PixelClassifier:
    """The official `head`: 1x1 conv (C->C) + BN + ReLU + 1x1 conv to one heatmap per landmark. The last
    conv starts as the official `init_weights` sets it (normal, std 0.001; zero bias here), so the first
    heatmaps are near zero rather than noise that an MSE to sparse Gaussians must first remove."""
    checks.positive_int("num_landmarks", num_landmarks)
    layer = PixelClassifier(in_channels, num_landmarks, norm)  # type: ignore[arg-type]
    final = layer[-1]
    assert isinstance(final, nn.Conv2d)
    heatmap_init(final)
    return layer


def build_network(
    backbone: BackboneConfig = BACKBONE, head: LandmarkHead = HEAD, num_landmarks: int = NUM_LANDMARKS
) -> HRNetModel:
    """Backbone + head + the official landmark layer, heatmaps at 1/4 of the input. `v2` (every branch
    upsampled to 1/4 and concatenated, 15C channels) is the official network; `v1` (the 1/4 branch
    alone, C channels, under the same layer) is for ablations."""
    return heatmap_network(
        backbone,
        head,
        get_args(LandmarkHead),
        "landmark",
        lambda channels, norm: landmark_layer(channels, num_landmarks, norm),
    )
