"""Evaluation-time inference: whole image or sliding window, with multi-scale + flip averaging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from hrnet_lit.models.fusion import UpsampleMode, resize

Logits = Callable[[torch.Tensor], torch.Tensor]
Resize = tuple[UpsampleMode, bool]  # (upsample_mode, align_corners): the network's own
FlipAverage = Literal["logits", "probs"]


def upsample(
    logits: torch.Tensor, size: Sequence[int], mode: UpsampleMode = "bilinear", align_corners: bool = False
) -> torch.Tensor:
    """Logits to `size`, as the network's own upsampling does (the official code uses its one
    ALIGN_CORNERS setting in fusion, head and here)."""
    return resize(logits, tuple(size), mode, align_corners)


def sliding_window(
    net: Logits,
    image: torch.Tensor,
    crop: tuple[int, int],
    stride: tuple[int, int],
    how: Resize = ("bilinear", False),
) -> torch.Tensor:
    """Average the logits of overlapping `crop` windows (moved by `stride`) over the whole image.

    The image is zero-padded up to the crop size where smaller; returns N x K x H x W.
    """
    h, w = image.shape[-2:]
    ch, cw = min(crop[0], h), min(crop[1], w)
    rows = list(range(0, max(h - ch, 0) + 1, stride[0]))
    cols = list(range(0, max(w - cw, 0) + 1, stride[1]))
    if rows[-1] + ch < h:
        rows.append(h - ch)
    if cols[-1] + cw < w:
        cols.append(w - cw)
    total: torch.Tensor | None = None
    count = image.new_zeros(1, 1, h, w)
    for top in rows:
        for left in cols:
            window = image[..., top : top + ch, left : left + cw]
            logits = upsample(net(window), (ch, cw), *how)
            if total is None:
                total = image.new_zeros(image.shape[0], logits.shape[1], h, w)
            total[..., top : top + ch, left : left + cw] += logits
            count[..., top : top + ch, left : left + cw] += 1
    return total / count


def predict_probs(
    net: Logits,
    image: torch.Tensor,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    window: tuple[tuple[int, int], tuple[int, int]] | None = None,
    how: Resize = ("bilinear", False),
    flip_average: FlipAverage = "logits",
    flip_pairs: Sequence[Sequence[int]] = (),
) -> torch.Tensor:
    """Class probabilities at the image size, averaged over `scales` and (optionally) a horizontal flip.
    The flipped view's `flip_pairs` classes (LIP's left and right parts) are swapped back.

    `window=(crop, stride)` runs sliding-window inference at each scale instead of the whole image;
    logits are upsampled as `how` says (the network's mode and align_corners). Rescaled images are
    bilinear without aligned corners, as the official code's image resize. With `flip`, the two
    views are merged as `flip_average` says: `logits` averages their logits, then takes the softmax,
    the official order (its `inference` averages the logits and exponentiates); `probs` averages
    the two views' softmax probabilities.
    """
    size = image.shape[-2:]
    total = None
    for scale in scales:
        scaled = (
            image
            if scale == 1.0
            else F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False)
        )
        views = [scaled, scaled.flip(-1)] if flip else [scaled]
        outputs = []
        for k, view in enumerate(views):
            logits = upsample(sliding_window(net, view, *window, how) if window else net(view), size, *how)
            if k == 1:  # back to the image's orientation, its left / right classes swapped back
                order = list(range(logits.shape[1]))
                for a, b in flip_pairs:
                    order[a], order[b] = b, a
                logits = logits.flip(-1)[:, order]
            outputs.append(logits.softmax(1) if flip_average == "probs" else logits)
        merged = sum(outputs) / len(outputs)
        probs = merged if flip_average == "probs" else merged.softmax(1)
        total = probs if total is None else total + probs
    return total / len(scales)
