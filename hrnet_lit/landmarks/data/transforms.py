"""A face sample: the crop around a face, its heatmap targets, and the official training augmentation
(scale, rotation, flip with the landmark mirror map), on the pose task's affine crop and codec."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from hrnet_lit.errors import InputError
from hrnet_lit.pose.codec import HeatmapCodec
from hrnet_lit.pose.data.transforms import HeatmapCrop

FACE_PADDING = 1.25  # the official `scale *= 1.25` around a face's box


@dataclass
class Face:
    """One face to crop: centre (x, y) and scale (box side / 200, before the 1.25 padding) as the
    official files give them, landmarks (K, 2) in image pixels with their weights (K,: 1 annotated,
    0 not), the NME normaliser in pixels, attribute flags (A,), and which image it is on."""

    center: np.ndarray
    scale: float
    landmarks: np.ndarray
    weight: np.ndarray
    norm: float
    image: int
    attributes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))


@dataclass(frozen=True)
class FaceAugmentation:
    """The official landmark training augmentation: scale x U(1 - 0.25, 1 + 0.25), rotation U(-30, 30)
    degrees with probability 0.6, horizontal flip with probability 0.5 (landmarks swapped)."""

    scale_factor: float = 0.25
    rotation_factor: float = 30.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5

    def __post_init__(self) -> None:
        for key in ("scale_factor", "rotation_prob", "flip_prob"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise InputError(f"data.{key} must be within [0, 1], got {getattr(self, key)}")
        if self.rotation_factor < 0:
            raise InputError(f"data.rotation_factor must be >= 0, got {self.rotation_factor}")


class FaceTransform(HeatmapCrop):
    """(image, face) -> the sample a LandmarkTask trains or evaluates on.

    Training draws its augmentation from torch's RNG (seeded per sample by the resumable loader); scale,
    rotation and flip compose into one affine map, so the image is resampled once.

    Args:
        input_size, flip_pairs, codec: see `HeatmapCrop` (flip_pairs: landmarks swapped by a flip).
        augmentation: None for evaluation.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        flip_pairs: list[list[int]] | tuple[tuple[int, int], ...],
        codec: HeatmapCodec,
        augmentation: FaceAugmentation | None = None,
    ) -> None:
        super().__init__(input_size, flip_pairs, codec)
        self.augmentation = augmentation

    def __call__(self, image: Image.Image | np.ndarray, face: Face) -> dict[str, Any]:
        scale = float(face.scale) * FACE_PADDING
        center = face.center.astype(np.float64)
        rotation, flip = 0.0, False
        aug = self.augmentation
        if aug is not None:
            sf, rf = aug.scale_factor, aug.rotation_factor
            scale *= 1 - sf + 2 * sf * float(torch.rand(()))
            if float(torch.rand(())) <= aug.rotation_prob:
                rotation = (2 * float(torch.rand(())) - 1) * rf
            flip = float(torch.rand(())) < aug.flip_prob
        points = face.landmarks.astype(np.float64)
        crop, target, target_weight = self.crop(
            image, center, np.array([scale, scale]), rotation, flip, points, face.weight
        )
        padded = face.scale * FACE_PADDING
        return {
            "image": crop,
            "target": target,
            "target_weight": target_weight,
            "center": torch.from_numpy(face.center.astype(np.float32)),
            "scale": torch.tensor([padded, padded], dtype=torch.float32),
            "landmarks": torch.from_numpy(face.landmarks.astype(np.float32)),
            "weight": torch.from_numpy(face.weight.astype(np.float32)),
            "norm": torch.tensor(face.norm, dtype=torch.float32),
            "attributes": torch.from_numpy(face.attributes.astype(np.float32)),
        }
