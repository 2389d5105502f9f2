"""The official top-down crop: a person box as centre / scale, and the affine map from it to the input.

Hand-written on purpose: the official code builds the map from three point pairs
(`get_affine_transform`) and warps with OpenCV, whose pixel centres sit at integer coordinates. Keypoint
targets, flip and the decoding back to the image all use this same matrix, so reproducing it exactly
(rather than composing a library's resize / rotate / crop, each with its own rounding and centre
convention) is what keeps a joint where the official recipe puts it. Warping is PIL's affine resampling
with the half-pixel offset that turns its pixel-corner convention into OpenCV's.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

PIXEL_STD = 200.0  # the official unit of `scale`: a box of w pixels has scale w / 200
BOX_PADDING = 1.25  # the official margin around a person box


def box_to_center_scale(box: np.ndarray, aspect_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y, w, h) -> centre (2,) and scale (2,) in units of 200 px, the box widened or heightened to
    `aspect_ratio` (input width / height) and padded by 1.25, as the official `_xywh2cs`."""
    x, y, w, h = (float(v) for v in box[:4])
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], dtype=np.float32) * BOX_PADDING
    return center, scale


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    direction = a - b
    return b + np.array([-direction[1], direction[0]])


def affine_matrix(
    center: np.ndarray,
    scale: np.ndarray,
    rotation: float,
    output_size: tuple[int, int],
    inverse: bool = False,
) -> np.ndarray:
    """The 2 x 3 map from image to crop coordinates (crop to image with `inverse`) of the official
    `get_affine_transform`: the box centre goes to the crop centre, the box width (scale[0] * 200)
    to the crop width, rotated by `rotation` degrees. `output_size` is (width, height)."""
    src_w = float(scale[0]) * PIXEL_STD
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    angle = math.pi * rotation / 180.0
    sin, cos = math.sin(angle), math.cos(angle)
    up = np.array([0.0, -0.5 * src_w])
    src = np.zeros((3, 2))
    dst = np.zeros((3, 2))
    src[0] = center
    src[1] = center + np.array([up[0] * cos - up[1] * sin, up[0] * sin + up[1] * cos])
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + np.array([0.0, -0.5 * dst_w])
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inverse:
        src, dst = dst, src
    # Solve dst = M @ [src, 1] for the six entries of M, as cv2.getAffineTransform does.
    return np.linalg.solve(np.hstack([src, np.ones((3, 1))]), dst).T


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 2) points through a 2 x 3 affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def flip_matrix(width: int) -> np.ndarray:
    """x -> width - 1 - x: the official horizontal flip of an image `width` pixels wide."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2 x 3 matrix of `outer` after `inner`."""
    full = np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]])
    return full[:2]


def warp(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """The crop of the RGB `image` (H, W, 3) under `matrix` (image -> crop, OpenCV's pixel centres),
    `output_size` (width, height): the official `cv2.warpAffine(..., INTER_LINEAR)`, zeros outside.

    A sample within one pixel outside the image blends the edge pixel with the zero border, as the
    official crop does (PIL's affine warp, used before, repeated the edge pixel up to half a pixel
    out and gave zero beyond; inside the image PIL truncated its bilinear result where OpenCV rounds
    it, so the two differ by at most one grey level there, half a grey level on average)."""
    return cv2.warpAffine(
        image,
        np.asarray(matrix, dtype=np.float64),
        (int(output_size[0]), int(output_size[1])),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
