"""Image classification (HRNet-C): the task, its mixing, and its data modules under
`hrnet_lit.classification.data`."""

from typing import Any

__all__ = ["ClassificationTask"]


def __getattr__(name: str) -> Any:
    """`ClassificationTask` is imported on first use: the Lightning-free `network` module of this package
    (what `summary` on flags builds) must not pull in Lightning through the package."""
    if name == "ClassificationTask":
        from hrnet_lit.classification.task import ClassificationTask

        return ClassificationTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
