"""Top-down sample: a person's crop, its heatmap targets, and the official training augmentation.

The crop leaves as `uint8` (3, H, W): the task normalises it on its device (`HeatmapTask`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from hrnet_lit.common.normalize import image_tensor
from hrnet_lit.pose.affine import PIXEL_STD, affine_matrix, apply_affine, compose, flip_matrix, warp
from hrnet_lit.pose.codec import HeatmapCodec

HALF_BODY_PADDING = 1.5  # the official margin around a half-body box


@dataclass
class Person:
    """One person to crop: box centre / scale (units of 200 px), joints (K, 3: x, y, visibility) in
    image pixels, the box (x, y, w, h) and its score, and which image / annotation it comes from."""

    center: np.ndarray
    scale: np.ndarray
    joints: np.ndarray
    box: np.ndarray
    score: float
    image_id: int
    ann_id: int


@dataclass(frozen=True)
class Augmentation:
    """The official COCO training augmentation (scale factor 0.35, rotation 45 degrees with
    probability 0.6, flip 0.5 with the joint swap, half body 0.3 with more than 8 visible joints)."""

    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8


def flip_order(num: int, pairs: list[list[int]] | tuple[tuple[int, int], ...]) -> np.ndarray:
    """The point order of a mirrored crop: each pair swapped."""
    order = np.arange(num)
    for a, b in pairs:
        order[a], order[b] = b, a
    return order


def rgb_pixels(image: Image.Image | np.ndarray) -> np.ndarray:
    """(H, W, 3) `uint8` RGB pixels of `image`: converted to RGB only where it is in another mode (the
    image readers already give RGB)."""
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected uint8 RGB pixels (H, W, 3), got {image.dtype} {image.shape}")
        return image
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


class HeatmapCrop:
    """The crop of a heatmap task's sample and its targets, once the augmentation is drawn.

    Args:
        input_size: network input (height, width); heatmaps are 1/4 of it.
        flip_pairs: points swapped by a horizontal flip.
        codec: encodes the points into heatmap targets (the task's codec).
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        flip_pairs: list[list[int]] | tuple[tuple[int, int], ...],
        codec: HeatmapCodec,
    ) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (self.input_size[0] // 4, self.input_size[1] // 4)
        self.flip_pairs = [tuple(p) for p in flip_pairs]
        self.codec = codec

    def crop(
        self,
        image: Image.Image | np.ndarray,
        center: np.ndarray,
        scale: np.ndarray,
        rotation: float,
        flip: bool,
        points: np.ndarray,
        visible: np.ndarray,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The `uint8` (3, H, W) crop of `image` (an RGB image, or its (H, W, 3) `uint8` pixels; centre,
        scale (2,) in units of 200 px, rotation in degrees, mirrored first with `flip`: scale, rotation
        and flip in one affine map, so the image is resampled once), and the targets and their weights
        for `points` (K, 2, image pixels) and `visible` (K,)."""
        pixels = rgb_pixels(image)
        crop_wh = (self.input_size[1], self.input_size[0])
        mirror = flip_matrix(pixels.shape[1]) if flip else None
        if mirror is not None:
            center = apply_affine(center[None], mirror)[0]
        matrix = affine_matrix(center, scale, rotation, crop_wh)
        if mirror is not None:
            matrix = compose(matrix, mirror)
        crop = warp(pixels, matrix, crop_wh)
        in_crop = apply_affine(points, matrix)
        if flip:
            order = flip_order(len(points), self.flip_pairs)
            in_crop, visible = in_crop[order], visible[order]
        target, weight = self.codec.encode(in_crop, visible, self.input_size, self.heatmap_size)
        return image_tensor(crop), torch.from_numpy(target), torch.from_numpy(weight)


class TopDownTransform(HeatmapCrop):
    """(image, person) -> the sample a PoseTask trains or evaluates on.

    Training draws its augmentation from torch's RNG (seeded per sample by the resumable loader); the
    scale, rotation and flip compose into one affine map, so the image is resampled once.

    Args:
        input_size, flip_pairs, codec: see `HeatmapCrop` (flip_pairs: joints swapped by a flip).
        upper_body: joints of the upper half for the half-body augmentation (empty: no half body).
        augmentation: None for evaluation.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        flip_pairs: list[list[int]],
        codec: HeatmapCodec,
        upper_body: tuple[int, ...] = (),
        augmentation: Augmentation | None = None,
    ) -> None:
        super().__init__(input_size, flip_pairs, codec)
        self.upper_body = set(upper_body)
        self.augmentation = augmentation

    @property
    def aspect_ratio(self) -> float:
        return self.input_size[1] / self.input_size[0]

    def __call__(self, image: Image.Image | np.ndarray, person: Person) -> dict[str, Any]:
        center, scale = person.center.astype(np.float64), person.scale.astype(np.float64)
        joints = person.joints[:, :2].astype(np.float64)
        visible = person.joints[:, 2] > 0
        rotation, flip = 0.0, False
        aug = self.augmentation
        if aug is not None:
            if visible.sum() > aug.half_body_min_joints and float(torch.rand(())) < aug.half_body_prob:
                half = self._half_body(joints, visible)
                if half is not None:
                    center, scale = half
            sf, rf = aug.scale_factor, aug.rotation_factor
            scale = scale * float(np.clip(float(torch.randn(())) * sf + 1, 1 - sf, 1 + sf))
            if float(torch.rand(())) <= aug.rotation_prob:
                rotation = float(np.clip(float(torch.randn(())) * rf, -2 * rf, 2 * rf))
            flip = float(torch.rand(())) <= aug.flip_prob
        crop, target, weight = self.crop(image, center, scale, rotation, flip, joints, visible)
        return {
            "image": crop,
            "target": target,
            "target_weight": weight,
            "center": torch.from_numpy(person.center.astype(np.float32)),
            "scale": torch.from_numpy(person.scale.astype(np.float32)),
            "score": torch.tensor(person.score, dtype=torch.float32),
            "joints": torch.from_numpy(person.joints.astype(np.float32)),
            "box": torch.from_numpy(person.box.astype(np.float32)),
            "image_id": torch.tensor(person.image_id),
            "ann_id": torch.tensor(person.ann_id),
        }

    def _half_body(self, joints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The official `half_body_transform`: a box around the visible upper (or lower) joints."""
        upper = [joints[k] for k in range(len(joints)) if visible[k] and k in self.upper_body]
        lower = [joints[k] for k in range(len(joints)) if visible[k] and k not in self.upper_body]
        if not self.upper_body:
            return None
        # randn (not rand) < 0.5, as the official code: the upper half is chosen about 69 % of the time.
        if float(torch.randn(())) < 0.5 and len(upper) > 2:
            chosen = upper
        else:
            chosen = lower if len(lower) > 2 else upper
        if len(chosen) < 2:
            return None
        points = np.array(chosen)
        center = points.mean(axis=0)
        w, h = points.max(axis=0) - points.min(axis=0)
        if w > self.aspect_ratio * h:
            h = w / self.aspect_ratio
        elif w < self.aspect_ratio * h:
            w = h * self.aspect_ratio
        return center, np.array([w / PIXEL_STD, h / PIXEL_STD]) * HALF_BODY_PADDING
