"""What the detection task needs from its data module (`hrnet_lit.common.contracts`)."""

from __future__ import annotations

from typing import TypedDict

from hrnet_lit.common.contracts import DataContract, TaskData


class DetectionArgs(TypedDict):
    """The data module's `task_args`: DetectionTask's init arguments that the data knows."""

    num_classes: int
    class_names: list[str]
    category_ids: list[int]


DETECTION_CONTRACT = DataContract(TaskData, DetectionArgs)
