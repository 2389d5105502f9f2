"""Built-in synthetic segmentation set, generated on the fly: no download, same data on every machine.

Each image holds a few overlapping shapes on a textured, noisy background. Every shape gets a random
colour chosen to stand out from what lies under it, so colour never tells the class: discs and
triangles differ only in outline, rectangles and stripe patches only in texture. That makes the set
quick to learn yet sensitive to the model's spatial detail and context.
"""

from __future__ import annotations

import math

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from hrnet_lit.segmentation.data.transforms import SegEvalTransform, SegTransform

CLASSES: tuple[str, ...] = ("background", "disc", "rectangle", "triangle", "stripes")
PALETTE = np.array([(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200)], dtype=np.uint8)
DISC, RECTANGLE, TRIANGLE, STRIPES = 1, 2, 3, 4

_EXTENT_RANGE = (0.2, 0.45)  # shape size as a fraction of the shorter image side
_SHAPES_PER_IMAGE = (2, 4)
_TRIANGLE_NORMALS = np.array([0.0, 2.0 * math.pi / 3.0, 4.0 * math.pi / 3.0])


def _plane_wave(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, max_cycles: float) -> np.ndarray:
    """A smooth sinusoid with at most ``max_cycles`` periods across the image, values in [-1, 1].

    ``ys`` (H, 1) and ``xs`` (1, W) are unit coordinates; the sine of a sum is expanded into products
    of 1-D sines so only H + W sines are evaluated instead of H * W.
    """
    fy, fx = (2.0 * math.pi * rng.uniform(-max_cycles, max_cycles, size=2)).tolist()
    phase = rng.uniform(0.0, 2.0 * math.pi)
    return np.sin(fy * ys) * np.cos(fx * xs + phase) + np.cos(fy * ys) * np.sin(fx * xs + phase)


def _background(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """A bilinear blend of four random corner colours plus two low-frequency colour waves.

    Built as one (H, W, 6) basis times a (6, 3) matrix of random colours, a single fast matmul.
    """
    basis = np.stack(
        np.broadcast_arrays(
            (1 - ys) * (1 - xs), (1 - ys) * xs, ys * (1 - xs), ys * xs,
            _plane_wave(rng, ys, xs, 3.0), _plane_wave(rng, ys, xs, 3.0),
        ),
        axis=-1,
    )  # fmt: skip
    colours = np.concatenate([rng.uniform(0.0, 255.0, size=(4, 3)), rng.uniform(-30.0, 30.0, size=(2, 3))])
    return basis @ colours.astype(np.float32)


def _contrasting_colour(rng: np.random.Generator, reference: np.ndarray, candidates: int = 4) -> np.ndarray:
    """The random colour, out of a few, that is farthest from ``reference`` (keeps shapes visible)."""
    options = rng.uniform(0.0, 255.0, size=(candidates, 3)).astype(np.float32)
    return options[np.abs(options - reference).sum(axis=1).argmax()]


def _region(kind: int, u: np.ndarray, v: np.ndarray, extent: float, rng: np.random.Generator) -> np.ndarray:
    """Pixels inside a shape of size ``extent`` centred at (u, v) = 0 in its own rotated frame."""
    half = extent / 2.0
    if kind == DISC:
        return u * u + v * v <= half * half
    if kind == TRIANGLE:
        # Equilateral, circumradius 1.3 * half: inside when every edge-normal projection <= inradius.
        cos, sin = np.cos(_TRIANGLE_NORMALS), np.sin(_TRIANGLE_NORMALS)
        projections = u[..., None] * cos + v[..., None] * sin
        return projections.max(axis=-1) <= 0.65 * half
    aspect = rng.uniform(0.5, 1.0)  # rectangles and stripe patches: boxes of varied elongation
    return (np.abs(u) <= half) & (np.abs(v) <= half * aspect)


def render_shapes(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw one sample: (RGB uint8 image (H, W, 3), uint8 class mask (H, W))."""
    ys = (np.arange(height, dtype=np.float32) + 0.5)[:, None]
    xs = (np.arange(width, dtype=np.float32) + 0.5)[None, :]
    image = _background(rng, ys / height, xs / width)
    mask = np.zeros((height, width), dtype=np.uint8)
    side = min(height, width)
    # One shape per cell of a 2x2 grid, jittered: outlines (the class cue) stay mostly visible while
    # neighbours may still overlap a little.
    cells = rng.permutation(4)[: rng.integers(_SHAPES_PER_IMAGE[0], _SHAPES_PER_IMAGE[1] + 1)]
    for cell in cells.tolist():
        kind = int(rng.integers(DISC, STRIPES + 1))
        extent = rng.uniform(*_EXTENT_RANGE) * side
        cy = (cell // 2 + rng.uniform(0.25, 0.75)) * height / 2
        cx = (cell % 2 + rng.uniform(0.25, 0.75)) * width / 2
        angle = rng.uniform(0.0, 2.0 * math.pi)
        # Work only inside the shape's bounding window (the box corners reach 0.71 * extent).
        reach = math.ceil(0.72 * extent) + 1
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, height)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, width)
        dy, dx = ys[y0:y1] - cy, xs[:, x0:x1] - cx
        u = dx * math.cos(angle) + dy * math.sin(angle)
        v = dy * math.cos(angle) - dx * math.sin(angle)
        region = _region(kind, u, v, extent, rng)
        window = image[y0:y1, x0:x1]
        colour = _contrasting_colour(rng, image[int(cy), int(cx)])
        if kind == STRIPES:
            second = _contrasting_colour(rng, colour)
            period = max(extent / rng.uniform(3.0, 6.0), 4.0)
            bars = (u / period + rng.uniform()) % 1.0 < 0.5
            window[region] = np.where(bars[..., None], colour, second)[region]
        else:
            window[region] = colour
        mask[y0:y1, x0:x1][region] = kind
    lighting = 1.0 + 0.15 * _plane_wave(rng, ys / height, xs / width, 1.0)
    noise = (rng.random((height, width, 3), dtype=np.float32) - 0.5) * rng.uniform(10.0, 30.0)
    image = image * lighting[..., None] + noise
    return np.clip(image, 0.0, 255.0).astype(np.uint8), mask


class SyntheticShapes(Dataset[tuple[Tensor, Tensor]]):
    """``num_samples`` images drawn on the fly; sample ``i`` depends only on ``(seed, i)``."""

    classes = CLASSES
    palette = PALETTE
    ignore_index = 255

    def __init__(
        self,
        num_samples: int,
        image_size: tuple[int, int] = (128, 128),
        seed: int = 0,
        transform: SegTransform | None = None,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if len(image_size) != 2 or min(image_size) < 8:
            raise ValueError(f"image_size must be (height, width) with both >= 8, got {image_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.num_samples = num_samples
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.seed = seed
        self.transform = transform if transform is not None else SegEvalTransform()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return self.num_samples

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The raw (image, mask) arrays of sample ``index``, before any transform."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"sample index {index} out of range for {self.num_samples} samples")
        return render_shapes(np.random.default_rng((self.seed, index)), *self.image_size)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.transform(*self.sample(index))
