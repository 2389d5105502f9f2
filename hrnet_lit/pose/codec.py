"""The pose heatmap codec: joints -> Gaussian targets (`encode`, for the data) and heatmaps -> joints
(`decode`, for the task), one object built once from sigma and the DARK switch, as mmpose's
`MSRAHeatmap`. The task owns it and the data module receives it, so training targets and evaluation
decoding cannot disagree. Also here: the flip test's flip-back and shift, and the map back from
heatmap to image pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from hrnet_lit.errors import InputError
from hrnet_lit.pose.affine import affine_matrix

Decode = Literal["standard", "dark"]  # the old `model.decode` key's values


@dataclass(frozen=True)
class HeatmapCodec:
    """Gaussian heatmap targets and their decoding, as one choice.

    Args:
        sigma: Gaussian of the targets in heatmap pixels (official: 2 at 256x192, 3 at 384x288).
        dark: DARK (Zhang et al., CVPR 2020) at both ends: sub-pixel target centres, decoded by the
            Taylor expansion of the modulated heatmap. Off: the official targets centred on the
            nearest heatmap pixel, decoded by argmax and the quarter-pixel shift.
    """

    sigma: float = 2.0
    dark: bool = False

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise InputError(f"model.codec.sigma must be > 0, got {self.sigma}")

    def encode(
        self,
        joints: np.ndarray,
        visible: np.ndarray,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (K, h, w) and weights (K,) for joints (K, 2) in input pixels; sizes (height, width)."""
        return gaussian_targets(joints, visible, input_size, heatmap_size, self.sigma, self.dark)

    def decode(self, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        """Joints (N, K, 2) in heatmap pixels and their confidences (N, K: the heatmap maxima)."""
        return decode_heatmaps(heatmaps, self.dark)


def gaussian_targets(
    joints: np.ndarray,
    visible: np.ndarray,
    input_size: tuple[int, int],
    heatmap_size: tuple[int, int],
    sigma: float = 2.0,
    unbiased: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The official `generate_target`: heatmaps (K, h, w) and weights (K,) for joints (K, 2) in input
    pixels.

    A joint gets a Gaussian of `sigma` heatmap pixels within 3 sigma of its centre and weight 1 when
    it is visible and its window is not off the map (the official test, kept exactly); otherwise an
    empty map and weight 0. The official code rounds the centre to the nearest heatmap pixel;
    `unbiased` (DARK's encoding) keeps it sub-pixel. Sizes are (height, width). The Gaussian is
    computed on its window only (the same values, a fraction of the work of the whole map).
    """
    num = joints.shape[0]
    (in_h, in_w), (hm_h, hm_w) = input_size, heatmap_size
    stride = np.array([in_w / hm_w, in_h / hm_h])
    heatmaps = np.zeros((num, hm_h, hm_w), dtype=np.float32)
    weights = (np.asarray(visible) > 0).astype(np.float32)
    radius = int(sigma * 3)
    ys, xs = np.arange(hm_h, dtype=np.float32)[:, None], np.arange(hm_w, dtype=np.float32)[None, :]
    for k in range(num):
        if weights[k] == 0:
            continue
        exact = joints[k, :2] / stride
        mu_x, mu_y = int(exact[0] + 0.5), int(exact[1] + 0.5)
        if mu_x - radius >= hm_w or mu_y - radius >= hm_h or mu_x + radius + 1 < 0 or mu_y + radius + 1 < 0:
            weights[k] = 0.0
            continue
        cx, cy = (exact[0], exact[1]) if unbiased else (mu_x, mu_y)
        x0, x1 = max(mu_x - radius, 0), min(mu_x + radius + 1, hm_w)
        y0, y1 = max(mu_y - radius, 0), min(mu_y + radius + 1, hm_h)
        gx, gy = xs[:, x0:x1], ys[y0:y1]
        heatmaps[k, y0:y1, x0:x1] = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2))
    return heatmaps, weights


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


def decode_heatmaps(heatmaps: Tensor, dark: bool = False) -> tuple[Tensor, Tensor]:
    """Joints (N, K, 2) in heatmap pixels and their confidences (N, K: the heatmap maxima), by DARK or
    by argmax with the official quarter-pixel shift."""
    coords, values = argmax_joints(heatmaps)
    if dark:
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


def task_codec(codec: HeatmapCodec | None, decode: Decode | None = None) -> HeatmapCodec:
    """The task's codec: `model.codec`, else one from `model.decode`, the old key (configs and
    checkpoints before the codec decoded by `model.decode` and encoded by `data.unbiased_targets`);
    both given must agree."""
    if decode is not None and decode not in get_args(Decode):
        raise InputError(f"model.decode={decode!r}: choose one of {get_args(Decode)} (or model.codec.dark)")
    if codec is None:
        return HeatmapCodec(dark=decode == "dark")
    if decode is not None and (decode == "dark") != codec.dark:
        raise InputError(
            f"model.decode={decode!r} contradicts model.codec.dark={codec.dark}: DARK is the one switch "
            "model.codec.dark (model.decode is its old key: drop it)"
        )
    return codec


def data_codec(
    codec: HeatmapCodec | Mapping[str, Any] | None, sigma: float | None, unbiased_targets: bool | None
) -> HeatmapCodec:
    """The data module's codec: the task's (which the CLI links in; its fields where a parse-only
    config builds the data module), and `data.sigma` and `data.unbiased_targets`, the old keys of
    configs before the codec, only where they agree with it. Without one (a data module built in
    Python alone), those keys or the defaults."""
    if isinstance(codec, Mapping):
        codec = HeatmapCodec(**codec)
    if sigma is not None and not sigma > 0:
        raise InputError(f"data.sigma must be > 0, got {sigma}")
    if codec is None:
        return HeatmapCodec(2.0 if sigma is None else sigma, bool(unbiased_targets))
    for old, given, key, value in (
        ("data.sigma", sigma, "model.codec.sigma", codec.sigma),
        ("data.unbiased_targets", unbiased_targets, "model.codec.dark", codec.dark),
    ):
        if given is not None and given != value:
            raise InputError(
                f"{old}={given!r} contradicts {key}={value!r}: the task's codec sets both the targets "
                f"and their decoding ({old} is the old key of {key}: drop it, or set {key})"
            )
    return codec


# A task built in Python saves its codec object in its hyperparameters; checkpoints load with
# weights_only=True (see `hrnet_lit.common.checkpoint_file`), which accepts it once allow-listed.
torch.serialization.add_safe_globals([HeatmapCodec])
