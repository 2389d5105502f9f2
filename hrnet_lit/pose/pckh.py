"""PCKh, MPII's metric, as the official `evaluate`: a joint is correct within `threshold` x the head
size (0.6 x the diagonal of the annotated head box); the mean leaves out the pelvis and the thorax, as
the official mask of joints 6 and 7 does, and counts every labelled joint once (the official
count-weighted mean of the per-joint PCKh)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

HEAD_SIZE_BIAS = 0.6  # the official SC_BIAS
MPII_EXCLUDED = (6, 7)  # pelvis, thorax


def head_size(boxes: Tensor) -> Tensor:
    """The official head size of head boxes (N, 4: x1, y1, x2, y2): 0.6 x their diagonal."""
    return (boxes[:, 2:] - boxes[:, :2]).norm(dim=-1) * HEAD_SIZE_BIAS


class PCKh(Metric):
    """Per-joint counts of labelled joints within 0.5 (and 0.1) head sizes; `compute` gives `PCKh`
    (at `threshold`) and `PCKh@0.1`, means over the joints not `excluded`, in [0, 1]."""

    higher_is_better = True
    full_state_update = False

    def __init__(
        self, num_joints: int, threshold: float = 0.5, excluded: tuple[int, ...] = MPII_EXCLUDED
    ) -> None:
        super().__init__()
        self.threshold = threshold
        self.included = [k for k in range(num_joints) if k not in excluded]
        for name in ("correct", "correct_01", "total"):
            self.add_state(name, torch.zeros(num_joints, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, joints: Tensor, size: Tensor) -> None:
        """pred (N, K, 2) and joints (N, K, 3: x, y, visibility) in image pixels; size (N,) head sizes."""
        labelled = joints[..., 2] > 0
        error = (pred.double() - joints[..., :2].double()).norm(dim=-1) / size.double().clamp_min(1e-12)[
            :, None
        ]
        self.correct += ((error <= self.threshold) & labelled).sum(0)
        self.correct_01 += ((error <= 0.1) & labelled).sum(0)
        self.total += labelled.sum(0)

    def compute(self) -> dict[str, Tensor]:
        total = self.total[self.included].sum().clamp_min(1)
        return {
            "PCKh": (self.correct[self.included].sum() / total).float(),
            "PCKh@0.1": (self.correct_01[self.included].sum() / total).float(),
        }
