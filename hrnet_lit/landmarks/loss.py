"""The official landmark loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def heatmap_mse(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """The official `MSELoss(size_average=True)` over all heatmaps, with landmarks of weight 0 (not
    annotated: COCO-format sets) left out of it as the pose loss does. pred, target (N, K, h, w);
    weight (N, K). With every weight 1 it is the official loss exactly."""
    w = weight[:, :, None, None]
    return F.mse_loss(pred * w, target * w)
