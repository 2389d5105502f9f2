"""Image classification (HRNet-C): the task, its mixing, and its data modules under
`hrnet_lit.classification.data`."""

from hrnet_lit.lazy import lazy_names

__all__ = ["ClassificationTask"]
__getattr__ = lazy_names(__name__, {"ClassificationTask": "hrnet_lit.classification.task"})
