"""The landmark sets of the four benchmarks: their size, flip pairs (the official `MATCHED_PARTS`, made
0-based) and how each normalises its error (the official `compute_nme`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hrnet_lit.errors import InputError

Normalization = Literal["landmarks", "box"]


@dataclass(frozen=True)
class LandmarkSpec:
    """A landmark set: count, flip pairs, and the NME normaliser: the distance between the two
    `norm_landmarks` of the ground truth (inter-ocular, inter-pupil), or the face box size (`box`)."""

    name: str
    num_landmarks: int
    flip_pairs: tuple[tuple[int, int], ...]
    normalization: Normalization = "landmarks"
    norm_landmarks: tuple[int, int] = (0, 1)

    def check(self, where: str) -> None:
        k = self.num_landmarks
        for pair in (*self.flip_pairs, self.norm_landmarks):
            if len(pair) != 2 or not all(0 <= j < k for j in pair):
                raise InputError(f"{where}: landmark pair {list(pair)} is not two indices below {k}")


def _zero_based(pairs: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in pairs)


WFLW = LandmarkSpec(
    "wflw",
    98,
    (
        (0, 32), (1, 31), (2, 30), (3, 29), (4, 28), (5, 27), (6, 26), (7, 25), (8, 24), (9, 23),
        (10, 22), (11, 21), (12, 20), (13, 19), (14, 18), (15, 17), (33, 46), (34, 45), (35, 44),
        (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47), (60, 72), (61, 71), (62, 70),
        (63, 69), (64, 68), (65, 75), (66, 74), (67, 73), (55, 59), (56, 58), (76, 82), (77, 81),
        (78, 80), (87, 83), (86, 84), (88, 92), (89, 91), (95, 93), (96, 97),
    ),
    norm_landmarks=(60, 72),  # outer eye corners: inter-ocular
)  # fmt: skip
W300 = LandmarkSpec(
    "300w",
    68,
    _zero_based(
        (
            (1, 17), (2, 16), (3, 15), (4, 14), (5, 13), (6, 12), (7, 11), (8, 10), (18, 27), (19, 26),
            (20, 25), (21, 24), (22, 23), (32, 36), (33, 35), (37, 46), (38, 45), (39, 44), (40, 43),
            (41, 48), (42, 47), (49, 55), (50, 54), (51, 53), (62, 64), (61, 65), (68, 66), (59, 57),
            (60, 56),
        )
    ),
    norm_landmarks=(36, 45),  # outer eye corners: inter-ocular
)  # fmt: skip
COFW = LandmarkSpec(
    "cofw",
    29,
    _zero_based(
        ((1, 2), (5, 7), (3, 4), (6, 8), (9, 10), (11, 12), (13, 15), (17, 18), (14, 16), (19, 20), (23, 24))
    ),
    norm_landmarks=(8, 9),  # the pupils: inter-pupil
)
AFLW = LandmarkSpec(
    "aflw",
    19,
    _zero_based(((1, 6), (2, 5), (3, 4), (7, 12), (8, 11), (9, 10), (13, 15), (16, 18))),
    normalization="box",  # the CSV's box_size column
)
BENCHMARKS: dict[str, LandmarkSpec] = {s.name: s for s in (WFLW, W300, COFW, AFLW)}
# WFLW's six attribute subsets, in the order of its annotation files.
WFLW_ATTRIBUTES: tuple[str, ...] = ("pose", "expression", "illumination", "make-up", "occlusion", "blur")
