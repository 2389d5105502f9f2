"""Typed reads of the records of a json a user wrote (COCO annotations, detections files).

A COCO file comes from many tools, and a wrong value (a string where a number belongs, NaN, a missing
`bbox`) otherwise surfaces as a KeyError or a numpy error far from the file. Each read here checks one
field and, when it is wrong, raises an `InputError` naming the file and record (`where`), the key, the
value found and what was expected.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hrnet_lit.errors import InputError, MissingInputError

_MISSING: Any = object()
_INT64 = 2**63 - 1  # ids become int64 tensors


def shown(value: Any, limit: int = 60) -> str:
    """`repr(value)`, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_json_file(path: Path, key: str | None = None) -> Any:
    """The parsed json at `path`; a missing or unparsable file is an error naming `key` and the file."""
    prefix = f"{key}: " if key else ""
    if not path.is_file():
        raise MissingInputError(f"{prefix}{path} not found")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{prefix}{path} is not valid JSON: {error}") from None


def records(value: Any, where: str, section: str, allow_empty: bool = True) -> list[dict[str, Any]]:
    """`value`, the file's `section`, as a list of json objects."""
    if not isinstance(value, list):
        raise InputError(f"{where}: {section!r} is {shown(value)}, expected a list of objects")
    for k, item in enumerate(value):
        if not isinstance(item, dict):
            raise InputError(f"{where}: {section}[{k}] is {shown(item)}, expected an object")
    if not value and not allow_empty:
        raise InputError(f"{where}: {section!r} is empty")
    return value


def unique(ids: Iterable[int], where: str, what: str) -> None:
    """Refuse an id listed twice (pycocotools would silently keep the last record)."""
    seen: set[int] = set()
    for i in ids:
        if i in seen:
            raise InputError(f"{where}: {what} id {i} is listed twice; ids must be unique")
        seen.add(i)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Fields:
    """The fields of one json object `record`, read with their types checked; `where` names the file and
    the record (`instances.json: annotation 7`)."""

    def __init__(self, record: dict[str, Any], where: str) -> None:
        self.record = record
        self.where = where

    def _absent(self, key: str, expected: str, default: Any) -> Any:
        """`default` for a field that is missing (or null), or the error when it is required."""
        if default is _MISSING:
            raise InputError(f"{self.where} has no {key!r} (expected {expected})")
        return default

    def wrong(self, key: str, value: Any, expected: str) -> InputError:
        return InputError(f"{self.where}: {key} is {shown(value)}, expected {expected}")

    def integer(self, key: str, minimum: int | None = None, default: Any = _MISSING) -> int:
        """A whole number (`3` or `3.0`, not `"3"`) that fits in 64 bits, at least `minimum`."""
        expected = f"a whole number in {-_INT64 if minimum is None else minimum} ... {_INT64}"
        value = self.record.get(key)
        if value is None:
            return self._absent(key, expected, default)
        if not _is_number(value) or not math.isfinite(value) or value != int(value):
            raise self.wrong(key, value, expected)
        if not (-_INT64 if minimum is None else minimum) <= value <= _INT64:
            raise self.wrong(key, value, expected)
        return int(value)

    def number(self, key: str, minimum: float | None = None, default: Any = _MISSING) -> float:
        """A finite number (not NaN, not infinite), at least `minimum`."""
        expected = "a finite number" + (f" >= {minimum}" if minimum is not None else "")
        value = self.record.get(key)
        if value is None:
            return self._absent(key, expected, default)
        if not _is_number(value) or not math.isfinite(value) or (minimum is not None and value < minimum):
            raise self.wrong(key, value, expected)
        return float(value)

    def text(self, key: str, default: Any = _MISSING) -> str:
        """A non-empty string."""
        value = self.record.get(key)
        if value is None:
            return self._absent(key, "a non-empty string", default)
        if not isinstance(value, str) or not value:
            raise self.wrong(key, value, "a non-empty string")
        return value

    def numbers(self, key: str, length: int | None = None, default: Any = _MISSING) -> list[float]:
        """A list of finite numbers, of `length` when given."""
        expected = f"a list of {length or 'some'} finite numbers"
        value = self.record.get(key)
        if value is None:
            return self._absent(key, expected, default)
        if not isinstance(value, list):
            raise self.wrong(key, value, expected)
        if length is not None and len(value) != length:
            raise InputError(f"{self.where}: {key} has {len(value)} values, expected {length} finite numbers")
        for k, item in enumerate(value):
            if not _is_number(item) or not math.isfinite(item):
                raise self.wrong(f"{key}[{k}]", item, f"a finite number ({key} is {shown(value)})")
        return [float(v) for v in value]

    def box(self, key: str = "bbox", positive: bool = False) -> list[float]:
        """[x, y, width, height], finite, the size >= 0 (> 0 with `positive`)."""
        x, y, w, h = self.numbers(key, 4)
        if w < 0 or h < 0 or (positive and (w <= 0 or h <= 0)):
            size = "positive" if positive else "non-negative"
            raise self.wrong(key, self.record[key], f"[x, y, width, height] with a {size} width and height")
        return [x, y, w, h]

    def strings(self, key: str, default: Any = _MISSING) -> list[str]:
        """A non-empty list of non-empty strings."""
        expected = "a non-empty list of names"
        value = self.record.get(key)
        if value is None:
            return self._absent(key, expected, default)
        if not isinstance(value, list) or not value:
            raise self.wrong(key, value, expected)
        for k, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.wrong(f"{key}[{k}]", item, "a non-empty string")
        return value

    def int_lists(
        self, key: str, length: int | None, low: int, high: int, default: Any = _MISSING
    ) -> list[Any]:
        """A list of whole numbers in [low, high] (`length` None), or of lists of `length` of them."""
        what = f"whole numbers in {low}..{high}"
        expected = f"a list of {what}" if length is None else f"a list of [{', '.join('i' * length)}] {what}"
        value = self.record.get(key)
        if value is None:
            return self._absent(key, expected, default)
        if not isinstance(value, list):
            raise self.wrong(key, value, expected)
        for item in value:
            group = [item] if length is None else item
            if length is not None and (not isinstance(item, list) or len(item) != length):
                raise self.wrong(key, value, expected)
            if not all(
                _is_number(v) and math.isfinite(v) and v == int(v) and low <= v <= high for v in group
            ):
                raise self.wrong(key, value, expected)
        return value
