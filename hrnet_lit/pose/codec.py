"""Heatmaps -> joints: the official argmax decoding with its quarter-pixel shift, DARK's Taylor
refinement, the flip test, and the map back from heatmap to image pixels."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from hrnet_lit.pose.affine import affine_matrix

Decode = Literal["standard", "dark"]


def argmax_joints(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """Integer peak (N, K, 2: x, y) and its value (N, K) of each heatmap (official `get_max_preds`:
    a non-positive peak gives (0, 0))."""
    n, k, _, w = heatmaps.shape
    values, index = heatmaps.reshape(n, k, -1).max(dim=-1)
    coords = torch.stack([index % w, index // w], dim=-1).to(heatmaps.dtype)
    return coords * (values > 0).unsqueeze(-1), values


def _at(maps: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """maps (N, K, H, W) read at integer (x, y) (N, K), clamped to the map."""
    h, w = maps.shape[-2:]
    flat = y.clamp(0, h - 1) * w + x.clamp(0, w - 1)
    return maps.flatten(2).gather(2, flat.unsqueeze(-1)).squeeze(-1)


def quarter_offset(heatmaps: Tensor, coords: Tensor) -> Tensor:
    """The official post-processing: move a quarter pixel towards the higher neighbour in x and y
    (only for peaks with 1 < x < W - 1 and 1 < y < H - 1, as the official condition)."""
    h, w = heatmaps.shape[-2:]
    x, y = (coords[..., 0] + 0.5).floor().long(), (coords[..., 1] + 0.5).floor().long()
    inside = ((x > 1) & (x < w - 1) & (y > 1) & (y < h - 1)).unsqueeze(-1)
    diff = torch.stack(
        [
            _at(heatmaps, x + 1, y) - _at(heatmaps, x - 1, y),
            _at(heatmaps, x, y + 1) - _at(heatmaps, x, y - 1),
        ],
        dim=-1,
    )
    return coords + torch.where(inside, diff.sign() * 0.25, 0.0)


def gaussian_modulation(heatmaps: Tensor, kernel: int) -> Tensor:
    """DARK's modulation: blur each heatmap with a Gaussian of `kernel` pixels (OpenCV's sigma for that
    size, zero border as DARK pads), rescaled to keep its maximum."""
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
    taps = torch.arange(kernel, dtype=heatmaps.dtype, device=heatmaps.device) - (kernel - 1) / 2
    g = torch.exp(-(taps**2) / (2 * sigma**2))
    g = g / g.sum()
    n, k, h, w = heatmaps.shape
    x = heatmaps.reshape(n * k, 1, h, w)
    x = F.conv2d(x, g.view(1, 1, 1, -1), padding=(0, kernel // 2))
    x = F.conv2d(x, g.view(1, 1, -1, 1), padding=(kernel // 2, 0)).reshape(n, k, h, w)
    peak = heatmaps.amax(dim=(2, 3), keepdim=True)
    return x * peak / x.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)


def dark_offset(heatmaps: Tensor, coords: Tensor, kernel: int = 11) -> Tensor:
    """DARK (Zhang et al., CVPR 2020): second-order Taylor expansion of the log of the modulated
    heatmap at the peak; the offset is -H^-1 g (only away from the border, where H is invertible)."""
    logs = gaussian_modulation(heatmaps, kernel).clamp_min(1e-10).log()
    h, w = heatmaps.shape[-2:]
    x, y = coords[..., 0].long(), coords[..., 1].long()

    def v(dx: int, dy: int) -> Tensor:
        return _at(logs, x + dx, y + dy)

    dx = 0.5 * (v(1, 0) - v(-1, 0))
    dy = 0.5 * (v(0, 1) - v(0, -1))
    dxx = 0.25 * (v(2, 0) - 2 * v(0, 0) + v(-2, 0))
    dxy = 0.25 * (v(1, 1) - v(1, -1) - v(-1, 1) + v(-1, -1))
    dyy = 0.25 * (v(0, 2) - 2 * v(0, 0) + v(0, -2))
    det = dxx * dyy - dxy**2
    ok = (x > 1) & (x < w - 2) & (y > 1) & (y < h - 2) & (det != 0)
    safe = torch.where(ok, det, torch.ones_like(det))
    off_x = -(dyy * dx - dxy * dy) / safe
    off_y = -(-dxy * dx + dxx * dy) / safe
    return coords + torch.where(ok.unsqueeze(-1), torch.stack([off_x, off_y], dim=-1), 0.0)


def dark_kernel(heatmap_width: int) -> int:
    """DARK's blur size: 11 for 48-wide (256x192) heatmaps, 17 for 72-wide (384x288), odd, in between."""
    return max(3, round(11 * heatmap_width / 48) | 1)


def decode_heatmaps(heatmaps: Tensor, method: Decode = "standard") -> tuple[Tensor, Tensor]:
    """Joints (N, K, 2) in heatmap pixels and their confidences (N, K: the heatmap maxima)."""
    coords, values = argmax_joints(heatmaps)
    if method == "dark":
        return dark_offset(heatmaps, coords, dark_kernel(heatmaps.shape[-1])), values
    return quarter_offset(heatmaps, coords), values


def flip_back(heatmaps: Tensor, flip_pairs: list[list[int]]) -> Tensor:
    """Heatmaps of a mirrored input mirrored back, left and right joints swapped (official `flip_back`)."""
    order = list(range(heatmaps.shape[1]))
    for a, b in flip_pairs:
        order[a], order[b] = b, a
    return heatmaps.flip(-1)[:, order]


def shift_right(heatmaps: Tensor) -> Tensor:
    """The official `shift_heatmap`: one pixel to the right, aligning a flipped map's peaks (the flip of
    pixel centres x -> W - 1 - x is off by one against the image flip)."""
    shifted = heatmaps.clone()
    shifted[..., 1:] = heatmaps[..., :-1]
    return shifted


def to_image(coords: Tensor, center: Tensor, scale: Tensor, heatmap_size: tuple[int, int]) -> Tensor:
    """Heatmap pixels (N, K, 2) -> image pixels, through the inverse of each crop's affine map
    (official `transform_preds`); `heatmap_size` is (height, width)."""
    out = torch.empty_like(coords)
    size = (heatmap_size[1], heatmap_size[0])
    for i in range(coords.shape[0]):
        m = affine_matrix(
            center[i].double().cpu().numpy(), scale[i].double().cpu().numpy(), 0.0, size, inverse=True
        )
        mt = torch.as_tensor(np.asarray(m), dtype=coords.dtype, device=coords.device)
        out[i] = coords[i] @ mt[:, :2].T + mt[:, 2]
    return out
