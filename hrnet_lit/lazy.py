"""A task package's LightningModule, imported on first use.

A task package's `network` module is Lightning-free (what `summary` on flags builds), so the package
itself must not pull in Lightning when the network is imported; `hrnet_lit.<task>.<Task>` still
resolves, for configs and the registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each of `names` (attribute -> module) imported when used."""

    def getattr_(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return getattr_
