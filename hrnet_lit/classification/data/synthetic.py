"""Built-in synthetic classification set, generated on the fly: no download, same images everywhere.

Ten classes: five outlines (disc, ring, square, triangle, cross), each filled plain or striped. Every
image has one shape of random size, position, rotation and colour on a smooth, noisy background, so
neither colour nor place tells the class: the outline and the fill texture do. Sample `i` of a set
with seed `s` is drawn from (s, i) alone, so a set is the same on every machine and in every worker.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from hrnet_lit.common.resumable import stream_seed

SHAPES: tuple[str, ...] = ("disc", "ring", "square", "triangle", "cross")
CLASSES: tuple[str, ...] = tuple(f"{shape}_{fill}" for shape in SHAPES for fill in ("plain", "striped"))

_EXTENT_RANGE = (0.6, 0.9)  # shape size as a fraction of the shorter image side
_STRIPES_PER_SIDE = (4.0, 6.0)  # stripe periods across the shorter image side


def _outline(shape: str, u: np.ndarray, v: np.ndarray, half: float) -> np.ndarray:
    """Pixels inside `shape` of half-size `half`, centred at (u, v) = 0 in its own rotated frame."""
    r2 = u * u + v * v
    if shape == "disc":
        return r2 <= half * half
    if shape == "ring":
        return (r2 <= half * half) & (r2 >= (0.55 * half) ** 2)
    if shape == "square":
        return (np.abs(u) <= 0.8 * half) & (np.abs(v) <= 0.8 * half)
    if shape == "triangle":
        angles = np.array([0.0, 2.0 * math.pi / 3.0, 4.0 * math.pi / 3.0])
        projections = u[..., None] * np.cos(angles) + v[..., None] * np.sin(angles)
        return projections.max(axis=-1) <= 0.5 * half
    arm = 0.3 * half  # cross
    return ((np.abs(u) <= arm) & (np.abs(v) <= half)) | ((np.abs(v) <= arm) & (np.abs(u) <= half))


def render(label: int, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """One RGB image of class `label` at `size` (H, W)."""
    height, width = size
    ys = (np.arange(height, dtype=np.float32)[:, None] + 0.5) / height
    xs = (np.arange(width, dtype=np.float32)[None, :] + 0.5) / width
    corners = rng.uniform(0.0, 255.0, size=(4, 3)).astype(np.float32)
    weights = [(1 - ys) * (1 - xs), (1 - ys) * xs, ys * (1 - xs), ys * xs]
    image = sum(w[..., None] * c for w, c in zip(weights, corners, strict=True))

    shape, striped = SHAPES[label // 2], label % 2 == 1
    side = min(height, width)
    half = rng.uniform(*_EXTENT_RANGE) * side / 2.0
    cy = rng.uniform(half, height - half) if height > 2 * half else height / 2
    cx = rng.uniform(half, width - half) if width > 2 * half else width / 2
    angle = rng.uniform(0.0, 2.0 * math.pi)
    py, px = ys * height - cy, xs * width - cx
    u = px * math.cos(angle) + py * math.sin(angle)
    v = -px * math.sin(angle) + py * math.cos(angle)
    inside = _outline(shape, u, v, half)

    under = image[inside].mean(axis=0) if inside.any() else np.full(3, 127.0, np.float32)
    options = rng.uniform(0.0, 255.0, size=(4, 3)).astype(np.float32)
    colour = options[np.abs(options - under).sum(axis=1).argmax()]  # stands out from what lies under it
    fill = np.broadcast_to(colour, image.shape).copy()
    if striped:
        period = side / rng.uniform(*_STRIPES_PER_SIDE)
        stripe_angle = rng.uniform(0.0, math.pi)
        phase = (px * math.cos(stripe_angle) + py * math.sin(stripe_angle)) / period
        dark = (np.floor(phase) % 2 == 0)[..., None]
        fill = np.where(dark, 255.0 - colour, fill)
    image = np.where(inside[..., None], fill, image)
    image = image + rng.normal(0.0, 4.0, size=image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


class SyntheticClasses(Dataset[tuple[Image.Image, int]]):
    """`size` images, classes in turn (sample i is class i mod 10), served as (PIL image, label) or,
    with a `transform`, as (transform(image), label).

    Args:
        size: number of samples.
        image_size: generated (H, W), before any transform.
        seed: picks the set; sets with different seeds share no sample.
        transform: applied to each PIL image (timm's `create_transform` output).
    """

    classes = CLASSES

    def __init__(self, size: int, image_size: tuple[int, int], seed: int = 0, transform=None) -> None:
        self.size = size
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.seed = seed
        self.transform = transform

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        if not 0 <= index < self.size:
            raise IndexError(index)
        label = index % len(CLASSES)
        image = render(label, self.image_size, np.random.default_rng(stream_seed(self.seed, index)))
        return (self.transform(image) if self.transform is not None else image), label
