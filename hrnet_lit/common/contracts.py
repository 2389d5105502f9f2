"""What a task needs from its data module, as types that are checked when a run starts.

A task declares a `DataContract` (its `contract` ClassVar): `args`, a TypedDict of the init arguments
that the data module's `task_args` fill (classes, joints, ...), and `reads`, a Protocol of what the
task reads from the data module while it runs (a palette, COCO ground truth, ...), each member
`Annotated` with what it is for. `HRNetTask.setup` checks the data module against it, so a data
module of the user's own that lacks something is refused by name before the first step, not after
the first validation epoch; the task then reads its data through `HRNetTask.data`, typed by `reads`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypedDict, TypeVar, get_args, get_origin, get_type_hints

from hrnet_lit.errors import InputError


class TaskData(Protocol):
    """What every task reads from its data module."""

    task_args: Annotated[Mapping[str, Any], "the task's init arguments that the data knows"]
    input_size: Annotated[tuple[int, int], "H, W of a training input, at which the network's cost is counted"]


class NoArgs(TypedDict):
    """A task whose init arguments all come from the user."""


Reads = TypeVar("Reads", bound=TaskData, covariant=True)


@dataclass(frozen=True)
class DataContract(Generic[Reads]):
    """`reads`: the Protocol (a `TaskData`) of what the task reads from its data module, each member
    `Annotated` with its use; `args`: the TypedDict of the data module's `task_args`, whose keys are
    the task's `data_args` (the CLI fills them into the task's init arguments)."""

    reads: type[Reads]
    args: type = NoArgs

    @property
    def task_args(self) -> tuple[str, ...]:
        """The keys that the data module's `task_args` give, in the TypedDict's order."""
        return tuple(get_type_hints(self.args))

    def needs(self) -> dict[str, str]:
        """Each member of `reads` and what the task uses it for."""
        hints = get_type_hints(self.reads, include_extras=True)
        return {
            name: str(get_args(hint)[1]) if get_origin(hint) is Annotated else "read by the task"
            for name, hint in hints.items()
        }

    def missing(self, data: object) -> list[str]:
        """What `data` lacks: its absent members, and `task_args` keys, each with what it is for."""
        lacks = [f"{name} ({use})" for name, use in self.needs().items() if not hasattr(data, name)]
        given = getattr(data, "task_args", None)
        if isinstance(given, Mapping):
            absent = [key for key in self.task_args if key not in given]
            lacks += [f"task_args[{key!r}] (fills the task's {key})" for key in absent]
        return lacks

    def of(self, data: object, task: str) -> Reads:
        """`data`, checked: an `InputError` names `task`, the data module's class and each thing it
        lacks; no data module at all (plain dataloaders) is refused too, as the task reads from one."""
        if data is None:
            raise InputError(
                f"{task} reads its data from a data module (`trainer.fit(task, datamodule=...)`): "
                "none was given"
            )
        lacks = self.missing(data)
        if lacks:
            raise InputError(
                f"data: {type(data).__qualname__} lacks what {task} reads from its data module: "
                f"{'; '.join(lacks)}"
            )
        return data  # type: ignore[return-value]  # checked member by member above
