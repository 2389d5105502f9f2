"""Mixup / CutMix of a training batch (timm `Mixup`) and the soft targets they come with."""

from __future__ import annotations

import torch
from timm.data import Mixup
from timm.data.mixup import mixup_target


class BatchMixing:
    """timm's `Mixup` (mixup, CutMix or a random switch between them) for any batch size.

    timm pairs sample i with sample N-1-i and refuses an odd N; here the first even number of samples
    are mixed by timm and an odd last one keeps its own image, with its (label-smoothed) one-hot
    target, so every image's target still says what it shows.

    Args:
        num_classes: K of the soft targets.
        mixup_alpha: Beta(alpha, alpha) of the mixup ratio; 0 disables mixup.
        cutmix_alpha: Beta(alpha, alpha) of the CutMix area ratio; 0 disables CutMix.
        prob: probability of mixing a batch at all.
        switch_prob: with both on, probability of CutMix instead of mixup.
        label_smoothing: spread over the other classes of each (mixed) target.
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float,
        cutmix_alpha: float,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.0,
    ) -> None:
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.mixup = Mixup(
            mixup_alpha=mixup_alpha,
            cutmix_alpha=cutmix_alpha,
            prob=prob,
            switch_prob=switch_prob,
            label_smoothing=label_smoothing,
            num_classes=num_classes,
        )

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mixed images, N x K soft targets); `image` is not changed in place."""
        even = image.shape[0] - image.shape[0] % 2
        soft = mixup_target(target, self.num_classes, 1.0, self.label_smoothing)
        if even == 0:
            return image, soft
        mixed, mixed_soft = self.mixup(image[:even].clone(), target[:even])
        return torch.cat([mixed, image[even:]]), torch.cat([mixed_soft, soft[even:]])
