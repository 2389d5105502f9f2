"""Image classification (HRNet-C): the task, its mixing, and its data modules under
`hrnet_lit.classification.data`."""

from hrnet_lit.classification.task import ClassificationTask, build_classifier

__all__ = ["ClassificationTask", "build_classifier"]
