"""Built-in synthetic detection set: shapes with exact boxes, generated on the fly (no download).

Each image holds one to four discs, rectangles and triangles, randomly rotated, sized and coloured,
one per cell of a 2x2 grid so that they never overlap: every box is the tight box of the shape's
pixels. The colour of a shape is chosen to stand out from the background, never by class, so only
the outline tells the class. Sample `i` depends only on (seed, i).
"""

from __future__ import annotations

import math

import numpy as np

from hrnet_lit.detection.data.dataset import DetectionDataset
from hrnet_lit.detection.data.transforms import DetectionTransform, RawSample

SHAPE_CLASSES: tuple[str, ...] = ("disc", "rectangle", "triangle")
_EXTENT_RANGE = (0.5, 0.9)  # shape size as a fraction of a grid cell (half the shorter side)
_TRIANGLE_NORMALS = np.array([0.0, 2.0 * math.pi / 3.0, 4.0 * math.pi / 3.0])


def _shape_mask(kind: str, u: np.ndarray, v: np.ndarray, extent: float, aspect: float) -> np.ndarray:
    """Pixels inside a shape of size `extent` centred at (u, v) = 0 in its own rotated frame."""
    half = extent / 2.0
    if kind == "disc":
        return u * u + v * v <= half * half
    if kind == "triangle":
        projections = u[..., None] * np.cos(_TRIANGLE_NORMALS) + v[..., None] * np.sin(_TRIANGLE_NORMALS)
        return projections.max(axis=-1) <= 0.65 * half
    return (np.abs(u) <= half) & (np.abs(v) <= half * aspect)


def render_shapes(
    rng: np.random.Generator, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sample: RGB uint8 image (H, W, 3), each shape's pixels (N, H, W) bool, labels 1 ... 3 (N)."""
    ys = (np.arange(height, dtype=np.float32) + 0.5)[:, None]
    xs = (np.arange(width, dtype=np.float32) + 0.5)[None, :]
    corners = rng.uniform(0.0, 255.0, size=(4, 3)).astype(np.float32)
    wy, wx = ys / height, xs / width
    basis = np.stack(np.broadcast_arrays((1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx), -1)
    image = basis @ corners
    cell_h, cell_w = height / 2, width / 2
    masks, labels = [], []
    for cell in rng.permutation(4)[: rng.integers(1, 5)].tolist():
        label = int(rng.integers(1, len(SHAPE_CLASSES) + 1))
        extent = rng.uniform(*_EXTENT_RANGE) * min(cell_h, cell_w)
        reach = 0.72 * extent  # farthest shape pixel from the centre (rectangle corners)
        jitter_y, jitter_x = max(cell_h / 2 - reach, 0.0), max(cell_w / 2 - reach, 0.0)
        cy = (cell // 2 + 0.5) * cell_h + rng.uniform(-jitter_y, jitter_y)
        cx = (cell % 2 + 0.5) * cell_w + rng.uniform(-jitter_x, jitter_x)
        angle, aspect = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.5, 1.0)
        dy, dx = ys - cy, xs - cx
        u = dx * math.cos(angle) + dy * math.sin(angle)
        v = dy * math.cos(angle) - dx * math.sin(angle)
        mask = _shape_mask(SHAPE_CLASSES[label - 1], u, v, extent, aspect)
        if not mask.any():
            continue
        options = rng.uniform(0.0, 255.0, size=(4, 3)).astype(np.float32)
        reference = image[min(int(cy), height - 1), min(int(cx), width - 1)]
        image[mask] = options[np.abs(options - reference).sum(axis=1).argmax()]
        masks.append(mask)
        labels.append(label)
    image = image + (rng.random((height, width, 3), dtype=np.float32) - 0.5) * rng.uniform(10.0, 30.0)
    return (
        np.clip(image, 0.0, 255.0).astype(np.uint8),
        np.asarray(masks, dtype=bool).reshape(-1, height, width),
        np.asarray(labels, dtype=np.int64),
    )


def tight_boxes(masks: np.ndarray) -> np.ndarray:
    """The xyxy box (N, 4) of each non-empty mask's pixels (N, H, W), in pixel edges."""
    boxes = []
    for mask in masks:
        rows, cols = np.nonzero(mask)
        boxes.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def render_boxes(
    rng: np.random.Generator, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One sample: RGB uint8 image (H, W, 3), xyxy boxes (N, 4), labels 1 ... 3 (N), pixel areas (N)."""
    image, masks, labels = render_shapes(rng, height, width)
    areas = masks.reshape(len(masks), -1).sum(axis=1).astype(np.float32)
    return image, tight_boxes(masks), labels, areas


class SyntheticBoxes(DetectionDataset):
    """`num_samples` images drawn on the fly; image id `i` is sample `i`."""

    classes = SHAPE_CLASSES

    def __init__(
        self,
        num_samples: int,
        image_size: tuple[int, int] = (128, 128),
        seed: int = 0,
        transform: DetectionTransform | None = None,
    ) -> None:
        super().__init__(transform)
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if len(image_size) != 2 or min(image_size) < 16:
            raise ValueError(f"image_size must be (height, width) with both >= 16, got {image_size}")
        self.num_samples = num_samples
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.seed = seed

    def __len__(self) -> int:
        return self.num_samples

    def raw(self, index: int) -> RawSample:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"sample index {index} out of range for {self.num_samples} samples")
        return self.draw(np.random.default_rng((self.seed, index)), index)

    def draw(self, rng: np.random.Generator, image_id: int) -> RawSample:
        """One sample drawn from `rng` (subclasses add to what it holds)."""
        image, boxes, labels, areas = render_boxes(rng, *self.image_size)
        return RawSample(image, boxes, labels, np.zeros_like(labels), areas, image_id)
