"""What the landmark task needs from its data module (`hrnet_lit.common.contracts`)."""

from __future__ import annotations

from typing import Annotated, Protocol, TypedDict

from hrnet_lit.common.contracts import DataContract, TaskData


class LandmarkArgs(TypedDict):
    """The data module's `task_args`: LandmarkTask's init arguments that the data knows."""

    num_landmarks: int
    flip_pairs: list[list[int]]


class LandmarkData(TaskData, Protocol):
    """What LandmarkTask reads from its data module while it runs."""

    attribute_names: Annotated[
        tuple[str, ...], "the subsets (WFLW's pose, expression, ...) each evaluation face is flagged for"
    ]


LANDMARK_CONTRACT = DataContract(LandmarkData, LandmarkArgs)
