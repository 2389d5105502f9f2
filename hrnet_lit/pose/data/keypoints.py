"""What a keypoint set is: joint names, flip pairs, OKS sigmas, skeleton and upper body, COCO's as default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hrnet_lit.errors import InputError
from hrnet_lit.pose.contract import PoseArgs

COCO_JOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
# pycocotools' COCOeval keypoint sigmas (per joint, in units of the object scale).
COCO_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087,
    0.087, 0.089, 0.089,
)  # fmt: skip
# The COCO category's skeleton (0-based joint indices).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
    (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
COCO_UPPER_BODY: tuple[int, ...] = tuple(range(11))  # the official half-body split: nose ... wrists


def mirror_pairs(names: list[str] | tuple[str, ...]) -> list[list[int]]:
    """Flip pairs from names: `left_x` with `right_x` (also `x_left` / `x_right`, `l_x` / `r_x`)."""
    index = {name.lower(): k for k, name in enumerate(names)}
    swaps = (("left_", "right_"), ("_left", "_right"), ("l_", "r_"))
    pairs = []
    for name, k in index.items():
        for left, right in swaps:
            other = None
            if name.startswith(left):
                other = right + name[len(left) :]
            elif name.endswith(left) and left.startswith("_"):
                other = name[: -len(left)] + right
            if other is not None and other in index:
                pairs.append([k, index[other]])
                break
    return sorted(pairs)


@dataclass(frozen=True)
class KeypointSpec:
    """A keypoint set: everything the task and the augmentation need to know about the joints."""

    names: tuple[str, ...]
    flip_pairs: list[list[int]]
    sigmas: list[float]
    skeleton: list[list[int]] = field(default_factory=list)
    upper_body: tuple[int, ...] = ()

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def task_args(self) -> PoseArgs:
        """What the CLI links into PoseTask's init arguments."""
        return PoseArgs(
            num_joints=self.num_joints,
            joint_names=list(self.names),
            flip_pairs=[list(p) for p in self.flip_pairs],
            sigmas=list(self.sigmas),
            skeleton=[list(e) for e in self.skeleton],
        )

    def check(self, where: str) -> None:
        k = self.num_joints
        if k < 1:
            raise InputError(f"{where}: no keypoint names")
        if len(self.sigmas) != k or not all(s > 0 for s in self.sigmas):
            raise InputError(f"{where}: {len(self.sigmas)} sigmas for {k} joints (need {k} positive values)")
        for pair in [*self.flip_pairs, *self.skeleton]:
            if len(pair) != 2 or not all(0 <= j < k for j in pair):
                raise InputError(f"{where}: joint pair {pair} is not two indices below {k}")
        if any(not 0 <= j < k for j in self.upper_body):
            raise InputError(f"{where}: upper_body {list(self.upper_body)} has indices outside 0..{k - 1}")


COCO_SPEC = KeypointSpec(
    COCO_JOINTS,
    mirror_pairs(COCO_JOINTS),
    list(COCO_SIGMAS),
    [list(e) for e in COCO_SKELETON],
    COCO_UPPER_BODY,
)


def spec_from_category(
    category: dict[str, Any],
    where: str,
    flip_pairs: list[list[int]] | None = None,
    sigmas: list[float] | None = None,
    upper_body: list[int] | None = None,
) -> KeypointSpec:
    """The keypoint set of a COCO-format category (`keypoints` names, 1-based `skeleton`, optional
    `sigmas` / `flip_pairs` / `upper_body`), each overridable by the config. Sigmas default to COCO's
    when the names are COCO's; any other set must give them (OKS AP depends on them)."""
    names = tuple(category.get("keypoints") or ())
    coco = names == COCO_JOINTS
    sigmas = sigmas or category.get("sigmas") or (list(COCO_SIGMAS) if coco else None)
    if sigmas is None:
        raise InputError(
            f"{where}: the category {category.get('name')!r} has {len(names)} keypoints but no OKS sigmas; "
            "give data.sigmas (one per joint) or a `sigmas` list in the category"
        )
    skeleton = [[int(a) - 1, int(b) - 1] for a, b in category.get("skeleton") or []]
    pairs = flip_pairs if flip_pairs is not None else category.get("flip_pairs", mirror_pairs(names))
    if upper_body is None:
        upper_body = category.get("upper_body", list(COCO_UPPER_BODY) if coco else [])
    pairs = [[int(j) for j in p] for p in pairs]  # a json may write 3.0 for 3 (checked whole on reading)
    spec = KeypointSpec(names, pairs, [float(s) for s in sigmas], skeleton, tuple(int(j) for j in upper_body))
    spec.check(where)
    return spec
