"""HRNet + neck as a torchvision detection backbone (`HRNetPyramid`): the HRNetV2p pyramid (HRFPN) or,
for the paper's head ablation, V1 / V2 reduced to one stride-4 map; with mmdetection's `norm_eval`
and `frozen_stages` for the backbone."""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

from hrnet_lit.compat import BatchNorm
from hrnet_lit.models import checks
from hrnet_lit.models.fusion import UpsampleMode
from hrnet_lit.models.heads import V1Head, V2Head, V2pHead
from hrnet_lit.models.hrnet import HRNet

DetHead = Literal["v2p", "v1", "v2"]


class HRNetPyramid(nn.Module):
    """HRNet + representation head as a detection backbone: `forward` returns an ordered dict of maps
    ('0' finest) that all have `out_channels` channels.

    `v2p` is HRFPN (five levels); `v1` / `v2` give their stride-4 representation alone, after a 1x1
    conv to `out_channels`, so that the RPN and RoI heads are the same width for every head. The
    neck's concatenation upsamples with its own `upsample_mode` / `align_corners`, not the
    backbone's: the official detector fuses with `nearest` and concatenates bilinearly. `ceil_mode`:
    HRFPN's pools round up (the official rounds down).

    `norm_eval` keeps the backbone's BatchNorm layers in eval mode while training (running
    statistics used and never updated; their affine weights still learn), mmdetection's `norm_eval`.
    `frozen_stages` (mmdetection's): -1 freezes nothing, 0 the stem, s >= 1 the stem and stages 1 ... s
    (parameters fixed, norms in eval mode).
    """

    def __init__(
        self,
        backbone: HRNet,
        head: DetHead,
        out_channels: int = 256,
        upsample_mode: UpsampleMode = "bilinear",
        align_corners: bool = False,
        ceil_mode: bool = False,
        norm_eval: bool = False,
        frozen_stages: int = -1,
    ) -> None:
        super().__init__()
        checks.positive_int("detector.fpn_channels", out_channels)
        self.backbone = backbone
        resize = {"upsample_mode": upsample_mode, "align_corners": align_corners}
        channels = backbone.feature_info.channels()
        if head == "v2p":
            self.head: nn.Module = V2pHead(channels, out_channels, 5, ceil_mode=ceil_mode, **resize)
            self.reduce: nn.Module = nn.Identity()
        else:
            self.head = V1Head(channels) if head == "v1" else V2Head(channels, **resize)
            self.reduce = nn.Conv2d(self.head.out_channels, out_channels, 1)
        self.out_channels = out_channels
        self.num_levels = 5 if head == "v2p" else 1
        self.norm_eval = norm_eval
        self.frozen = frozen_parts(backbone, frozen_stages)
        for part in self.frozen:
            part.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.head(self.backbone(x))
        if isinstance(features, torch.Tensor):
            features = [self.reduce(features)]
        return OrderedDict((str(k), f) for k, f in enumerate(features))

    def train(self, mode: bool = True) -> HRNetPyramid:
        super().train(mode)
        if mode:
            for part in self.frozen:
                part.eval()
            if self.norm_eval:
                for module in self.backbone.modules():
                    if isinstance(module, BatchNorm):
                        module.eval()
        return self

    def init_official(self) -> None:
        """The official HRFPN's `init_weights`: every conv `kaiming_normal_(a=1)` (std 1 / sqrt(fan_in)),
        bias 0 (the V1 / V2 reduction conv, which has no official counterpart, too)."""
        for module in (self.head, self.reduce):
            for conv in module.modules():
                if isinstance(conv, nn.Conv2d):
                    nn.init.kaiming_normal_(conv.weight, a=1)
                    nn.init.zeros_(conv.bias)


def frozen_parts(backbone: HRNet, frozen_stages: int) -> list[nn.Module]:
    """The stem (0) and the stages 1 ... `frozen_stages` of an HRNet, with their transitions."""
    stages: list[list[nn.Module]] = [
        [backbone.conv1, backbone.bn1, backbone.conv2, backbone.bn2],
        [backbone.layer1],
    ]
    stages += [[getattr(backbone, f"transition{s - 1}"), getattr(backbone, f"stage{s}")] for s in (2, 3, 4)]
    return [part for stage in stages[: frozen_stages + 1] for part in stage]
