"""Gaussian heatmap targets with per-joint weights, as the official `generate_target`."""

from __future__ import annotations

import numpy as np


def gaussian_targets(
    joints: np.ndarray,
    visible: np.ndarray,
    input_size: tuple[int, int],
    heatmap_size: tuple[int, int],
    sigma: float = 2.0,
    unbiased: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (K, h, w) and weights (K,) for joints (K, 2) in input pixels.

    A joint gets a Gaussian of `sigma` heatmap pixels within 3 sigma of its centre and weight 1 when
    it is visible and its window is not off the map (the official test, kept exactly); otherwise an
    empty map and weight 0. The official code rounds the centre to the nearest heatmap pixel;
    `unbiased` (DARK's encoding) keeps it sub-pixel. Sizes are (height, width).
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
        window = (np.abs(xs - mu_x) <= radius) & (np.abs(ys - mu_y) <= radius)
        heatmaps[k] = np.where(window, np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2)), 0.0)
    return heatmaps, weights
