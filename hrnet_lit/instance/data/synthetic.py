"""Built-in synthetic instance set: the detection task's synthetic shapes (`render_shapes`: discs,
rectangles and triangles, one per cell of a 2x2 grid, coloured against their background, never by
class), each with its exact pixel mask. Sample `i` depends only on (seed, i)."""

from __future__ import annotations

import numpy as np

from hrnet_lit.detection.data.synthetic import SHAPE_CLASSES, render_shapes, tight_boxes
from hrnet_lit.instance.data.dataset import InstanceDataset, InstanceSample, InstanceTransform


def instance_sample(rng: np.random.Generator, height: int, width: int, image_id: int) -> InstanceSample:
    """One synthetic image with its shapes' masks, tight boxes (xyxy) and pixel areas."""
    image, masks, labels = render_shapes(rng, height, width)
    return InstanceSample(
        image,
        tight_boxes(masks),
        labels,
        np.zeros_like(labels),
        masks.reshape(len(masks), -1).sum(axis=1).astype(np.float32),
        image_id,
        masks.astype(np.uint8),
    )


class SyntheticInstances(InstanceDataset):
    """`num_samples` images drawn on the fly; image id `i` is sample `i`."""

    classes = SHAPE_CLASSES

    def __init__(
        self,
        num_samples: int,
        image_size: tuple[int, int] = (128, 128),
        seed: int = 0,
        transform: InstanceTransform | None = None,
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

    def raw(self, index: int) -> InstanceSample:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"sample index {index} out of range for {self.num_samples} samples")
        return instance_sample(np.random.default_rng((self.seed, index)), *self.image_size, index)
