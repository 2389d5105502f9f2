"""Built-in synthetic instance set: the detection task's synthetic shapes (`render_shapes`: discs,
rectangles and triangles, one per cell of a 2x2 grid, coloured against their background, never by
class), each with its exact pixel mask. Sample `i` depends only on (seed, i)."""

from __future__ import annotations

import numpy as np

from hrnet_lit.detection.data.synthetic import SyntheticBoxes, render_shapes, tight_boxes
from hrnet_lit.instance.data.dataset import InstanceDataset, InstanceSample


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


class SyntheticInstances(SyntheticBoxes, InstanceDataset):
    """`SyntheticBoxes` (its arguments and checks) with each shape's mask, served with the instance
    transform; image id `i` is sample `i`."""

    def draw(self, rng: np.random.Generator, image_id: int) -> InstanceSample:
        return instance_sample(rng, *self.image_size, image_id)
