"""What the segmentation task needs from its data module (`hrnet_lit.common.contracts`)."""

from __future__ import annotations

from typing import Annotated, Protocol, TypedDict

import numpy as np

from hrnet_lit.common.contracts import DataContract, TaskData


class SegmentationArgs(TypedDict):
    """The data module's `task_args`: SegmentationTask's init arguments that the data knows."""

    num_classes: int
    class_names: list[str]
    ignore_index: int


class SegmentationData(TaskData, Protocol):
    """What SegmentationTask reads from its data module while it runs."""

    palette: Annotated[np.ndarray, "the (K, 3) colour of each class in predicted masks and W&B panels"]


SEGMENTATION_CONTRACT = DataContract(SegmentationData, SegmentationArgs)
