"""Construction-time checks of network knobs: a wrong value fails where it is set, naming the knob,
not later as a shape or type error deep inside `forward`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hrnet_lit.errors import InputError


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def positive_int(name: str, value: Any) -> None:
    if not _is_positive_int(value):
        raise InputError(f"{name}={value!r} must be a positive integer")


def positive_ints(name: str, value: Any, length: int) -> None:
    """`length` positive integers, one per stage."""
    if not _sequence_of(value, length):
        raise InputError(f"{name}={value!r} must have {length} entries (one per stage)")
    if not all(_is_positive_int(v) for v in value):
        raise InputError(f"{name}={value!r} must be positive integers")


def choices(name: str, value: Any, length: int, allowed: tuple[str, ...]) -> None:
    """`length` entries, one per stage, each one of `allowed`."""
    if not (_sequence_of(value, length) and all(v in allowed for v in value)):
        raise InputError(
            f"{name}={value!r} must have {length} entries (one per stage), each one of {allowed}"
        )


def one_of(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not (isinstance(value, str) and value in allowed):
        raise InputError(f"{name}={value!r} is not supported; choose one of {allowed}")


def flag(name: str, value: Any) -> None:
    """A real bool: a string such as 'false' would otherwise switch the knob on."""
    if not isinstance(value, bool):
        raise InputError(f"{name}={value!r} must be true or false")


def _sequence_of(value: Any, length: int) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == length
