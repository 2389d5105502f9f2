"""The official pose loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def joints_mse(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """The official `JointsMSELoss` with target weights: 0.5 * MSE(pred * w, gt * w) per joint, averaged
    over joints. Every joint's MSE averages the same number of values, so that is one mean over all.
    pred, target (N, K, h, w); weight (N, K)."""
    w = weight[:, :, None, None]
    return 0.5 * F.mse_loss(pred * w, target * w)
