"""Deterministic colour palettes for datasets that do not ship one."""

from __future__ import annotations

import numpy as np


def make_palette(num_classes: int) -> np.ndarray:
    """``(num_classes, 3)`` uint8 colours, distinct for neighbouring ids.

    The bits of each class id are dealt round-robin to R, G, B from the most significant bit down, so
    ids that differ in their low bits (neighbours) get far-apart colours and the result never changes
    between runs, which keeps saved visualisations comparable.
    """
    ids = np.arange(num_classes)
    palette = np.zeros((num_classes, 3), dtype=np.int64)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= ((ids >> (3 * bit + channel)) & 1) << (7 - bit)
    return palette.astype(np.uint8)
