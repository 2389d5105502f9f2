"""What the classification task needs from its data module (`hrnet_lit.common.contracts`)."""

from __future__ import annotations

from typing import TypedDict

from hrnet_lit.common.contracts import DataContract, TaskData


class ClassificationArgs(TypedDict):
    """The data module's `task_args`: ClassificationTask's init arguments that the data knows."""

    num_classes: int
    class_names: list[str]


CLASSIFICATION_CONTRACT = DataContract(TaskData, ClassificationArgs)
