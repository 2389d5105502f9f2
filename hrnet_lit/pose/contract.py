"""What the pose task needs from its data module (`hrnet_lit.common.contracts`)."""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Annotated, Protocol, TypedDict

from pycocotools.coco import COCO

from hrnet_lit.common.contracts import DataContract, TaskData


class PoseArgs(TypedDict):
    """The data module's `task_args`: PoseTask's init arguments that the data knows (the keypoint set)."""

    num_joints: int
    joint_names: list[str]
    flip_pairs: list[list[int]]
    sigmas: list[float]
    skeleton: list[list[int]]


class PoseData(TaskData, Protocol):
    """What PoseTask reads from its data module while it runs."""

    ground_truth: Annotated[Callable[[str], COCO], "a split's COCO annotations, scored by val/AP, test/AP"]
    dataset: Annotated[Callable[[str], Sized], "a split's person crops, counted so each is scored once"]
    uses_detections: Annotated[bool, "whether evaluation crops are a detector's (no PCK without true boxes)"]


POSE_CONTRACT = DataContract(PoseData, PoseArgs)
