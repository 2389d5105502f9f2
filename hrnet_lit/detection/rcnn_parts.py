"""torchvision's Faster R-CNN parts, extended (by subclassing) where the official HRNetV2p detector
(HRNet-Object-Detection, mmdetection v1) behaves otherwise and torchvision has no knob for it.

- `StridedAnchorGenerator`: anchors at the given strides, centred on their cells. torchvision infers
  a level's stride as padded size // map size, which is wrong once a level is pooled with floor from
  a map whose size is not a multiple of its stride; and it centres anchors on the cells' corners.
- `FlooredMatcher`: the official low-quality matches (mmdetection's `min_pos_iou`), only where a
  ground truth's best IoU reaches a floor; torchvision has no floor.
- `BorderRPN`: the RPN learns only from anchors inside the image (`allowed_border`).
- `OfficialRoIHeads`: the box head's SmoothL1 `beta` (torchvision fixes 1/9) and a floored matcher.
- `RoundingTransform`: the resized size rounds half up, `int(h * s + 0.5)` (torchvision floors).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes

from hrnet_lit.compat import detection_matcher

Rounding = Literal["round", "floor"]
_IMAGE_SIZE = "image_size"  # the key under which BorderRPN hands each image's size to the matching


class StridedAnchorGenerator(AnchorGenerator):
    """torchvision's anchors at fixed `strides` (one per level) with their centres at
    `(k + center_offset) * stride`: 0.5 is the official (mmdetection v1's base anchors centred at
    (stride - 1) / 2 in its +1 pixel convention: the cell's centre), 0 is torchvision's corner.
    Anchors are float32 whatever the features' dtype: under bf16 autocast, pixel coordinates past 256
    would round to steps of 2 px and more (and mix dtypes with the float32 ground truth)."""

    def __init__(
        self,
        sizes: tuple[tuple[int, ...], ...],
        aspect_ratios: tuple[tuple[float, ...], ...],
        strides: tuple[int, ...],
        center_offset: float,
    ) -> None:
        super().__init__(sizes, aspect_ratios)
        self.strides = strides
        self.cell_anchors = [a + center_offset * s for a, s in zip(self.cell_anchors, strides, strict=True)]

    def forward(self, image_list: ImageList, feature_maps: list[Tensor]) -> list[Tensor]:
        device = feature_maps[0].device
        grid_sizes = [list(f.shape[-2:]) for f in feature_maps]
        strides = [[torch.tensor(s, device=device)] * 2 for s in self.strides]
        self.set_cell_anchors(torch.float32, device)
        anchors = torch.cat(self.grid_anchors(grid_sizes, strides))
        return [anchors for _ in image_list.image_sizes]


class FlooredMatcher(detection_matcher()):  # type: ignore[misc]
    """torchvision's `Matcher` with mmdetection's `MaxIoUAssigner` low-quality rule: every ground
    truth whose best IoU is at least `min_low_quality` takes the predictions with that IoU (all of
    them, `gt_max_assign_all`), even where they lie below `low_threshold`; where two ground truths
    claim the same prediction, the later one wins, as the official loop over ground truths does.
    torchvision's rule has no floor (a ground truth that no anchor touches matches every anchor at
    IoU 0) and matches a claimed prediction to its own best ground truth instead."""

    def __init__(self, high_threshold: float, low_threshold: float, min_low_quality: float) -> None:
        super().__init__(high_threshold, low_threshold, allow_low_quality_matches=True)
        self.min_low_quality = min_low_quality

    def set_low_quality_matches_(
        self, matches: Tensor, all_matches: Tensor, match_quality_matrix: Tensor
    ) -> None:
        best = match_quality_matrix.max(dim=1, keepdim=True).values
        claimed = (match_quality_matrix == best) & (best >= self.min_low_quality)  # (gt, prediction)
        hit = claimed.any(dim=0)
        last = len(claimed) - 1 - claimed.flip(0).int().argmax(dim=0)  # the last claiming gt
        matches[hit] = last[hit]


class BorderRPN(RegionProposalNetwork):
    """torchvision's RPN whose training targets ignore anchors that cross the image border by more
    than `allowed_border` pixels (mmdetection's `allowed_border`; negative: keep all, torchvision's
    behaviour). The image is the resized one before padding. Ignored anchors are neither positive
    nor negative, and the matching (low-quality matches included) sees only the others, as the
    official `anchor_target` does."""

    def __init__(self, *args: Any, allowed_border: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_border = allowed_border

    def forward(
        self, images: ImageList, features: dict[str, Tensor], targets: list[dict[str, Tensor]] | None = None
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        if targets is not None and self.allowed_border >= 0:
            sizes = images.image_sizes
            targets = [{**t, _IMAGE_SIZE: torch.tensor(s)} for t, s in zip(targets, sizes, strict=True)]
        return super().forward(images, features, targets)

    def assign_targets_to_anchors(
        self, anchors: list[Tensor], targets: list[dict[str, Tensor]]
    ) -> tuple[list[Tensor], list[Tensor]]:
        if self.allowed_border < 0:
            return super().assign_targets_to_anchors(anchors, targets)
        labels, matched = [], []
        for boxes, target in zip(anchors, targets, strict=True):
            inside = inside_image(boxes, target[_IMAGE_SIZE].tolist(), self.allowed_border)
            label = boxes.new_full((len(boxes),), -1.0)  # -1: ignored by the sampler
            gt = boxes.new_zeros(boxes.shape)
            if inside.any():
                inside_labels, inside_gt = super().assign_targets_to_anchors([boxes[inside]], [target])
                label[inside], gt[inside] = inside_labels[0], inside_gt[0]
            labels.append(label)
            matched.append(gt)
        return labels, matched


def inside_image(boxes: Tensor, size: list[int], border: int) -> Tensor:
    """Boxes (xyxy) lying within an image of `size` (h, w) widened by `border` pixels each side."""
    h, w = size
    return (
        (boxes[:, 0] >= -border)
        & (boxes[:, 1] >= -border)
        & (boxes[:, 2] <= w + border)
        & (boxes[:, 3] <= h + border)
    )


class OfficialRoIHeads(RoIHeads):
    """torchvision's RoI heads with the box regression's SmoothL1 `box_loss_beta` (the official 1.0;
    torchvision's `fastrcnn_loss` fixes 1/9) and a `FlooredMatcher` floored at `min_low_quality` (the
    official R-CNN assigner: 0.5; torchvision's R-CNN matcher makes no low-quality matches). Same
    averaging as both: summed over the positive RoIs' class boxes, divided by the number of sampled
    RoIs. The other arguments are `RoIHeads`' own."""

    def __init__(self, *args: Any, box_loss_beta: float, min_low_quality: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.box_loss_beta = box_loss_beta
        matcher = self.proposal_matcher
        self.proposal_matcher = FlooredMatcher(matcher.high_threshold, matcher.low_threshold, min_low_quality)
        self._sampled: tuple[list[Tensor], list[Tensor]] | None = None

    def select_training_samples(self, proposals: list[Tensor], targets: Any) -> Any:
        samples = super().select_training_samples(proposals, targets)
        self._sampled = samples[2], samples[3]  # labels and regression targets of the sampled RoIs
        return samples

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        if not self.training:
            return super().forward(features, proposals, image_shapes, targets)
        seen: list[tuple[Tensor, Tensor]] = []
        hook = self.box_predictor.register_forward_hook(lambda _m, _i, out: seen.append(out))
        try:
            result, losses = super().forward(features, proposals, image_shapes, targets)
        finally:
            hook.remove()
        assert self._sampled is not None
        labels, targets_ = (torch.cat(part) for part in self._sampled)
        self._sampled = None
        regression = seen[0][1].reshape(len(labels), -1, 4)
        positive = torch.where(labels > 0)[0]
        loss = F.smooth_l1_loss(
            regression[positive, labels[positive]],
            targets_[positive],
            beta=self.box_loss_beta,
            reduction="sum",
        )
        losses["loss_box_reg"] = loss / labels.numel()
        return result, losses


class RoundingTransform(GeneralizedRCNNTransform):
    """torchvision's resize and normalisation, with the resized size rounded as `rounding` says:
    `round` is mmcv's `int(h * s + 0.5)` (the official), `floor` torchvision's. The scale is the
    same: shorter side to `min_size`, longer at most `max_size`. Boxes (and masks, for Mask R-CNN)
    follow the image's actual ratio, as torchvision's."""

    def __init__(self, *args: Any, rounding: Rounding = "round", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rounding = rounding

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None) -> tuple[Tensor, Any]:
        if self.rounding == "floor" or self.fixed_size is not None:
            return super().resize(image, target)
        h, w = image.shape[-2:]
        shorter = self.torch_choice(self.min_size) if self.training else self.min_size[-1]
        scale = min(shorter / min(h, w), self.max_size / max(h, w))
        size = (int(h * scale + 0.5), int(w * scale + 0.5))
        image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        if target is None:
            return image, target
        target["boxes"] = resize_boxes(target["boxes"], (h, w), size)
        if "masks" in target:
            masks = target["masks"][:, None].float()
            target["masks"] = F.interpolate(masks, size=size)[:, 0].byte()
        return image, target
