"""Segmentation losses: cross-entropy with ignored pixels, and the official OHEM variant."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SegmentationLoss(nn.Module):
    """Pixel-wise cross-entropy; with `ohem`, only the hardest pixels count (as the official repo).

    OHEM keeps pixels whose true-class probability is below `max(ohem_thresh, p_k)`, where p_k is
    the `ohem_min_kept`-th smallest probability, so at least that many pixels always contribute.
    """

    def __init__(
        self,
        ignore_index: int = 255,
        class_weights: list[float] | None = None,
        ohem: bool = False,
        ohem_thresh: float = 0.7,
        ohem_min_kept: int = 100_000,
    ) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.register_buffer(
            "weight", torch.tensor(class_weights) if class_weights else None, persistent=False
        )
        self.ohem = ohem
        self.ohem_thresh = ohem_thresh
        self.ohem_min_kept = ohem_min_kept

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits: N x K x H x W at the label size; target: N x H x W class indices or ignore_index.

        A batch whose pixels are all ignored (a crop inside an unlabelled region) has loss 0, not
        the nan of an empty mean, which would stop the run or skip the step."""
        if not self.ohem:
            if not bool((target != self.ignore_index).any()):
                return logits.sum() * 0.0
            return F.cross_entropy(logits, target, weight=self.weight, ignore_index=self.ignore_index)
        losses = F.cross_entropy(
            logits, target, weight=self.weight, ignore_index=self.ignore_index, reduction="none"
        ).flatten()
        valid = target.flatten() != self.ignore_index
        if not valid.any():
            return losses.sum() * 0.0
        with torch.no_grad():
            safe = target.masked_fill(target == self.ignore_index, 0)
            prob = logits.softmax(1).gather(1, safe.unsqueeze(1)).flatten()[valid]
            kth = prob.kthvalue(min(self.ohem_min_kept, prob.numel() - 1) + 1).values
            hard = prob < max(kth.item(), self.ohem_thresh)
        kept = losses[valid][hard]
        return kept.mean() if kept.numel() else losses[valid].mean()
