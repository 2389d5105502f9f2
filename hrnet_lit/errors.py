"""Errors that blame the input, not the code: the entry point prints them as one message, no traceback."""

from __future__ import annotations


class InputError(ValueError):
    """A config key, flag value or file is wrong; the message names it and says what was expected."""


class MissingInputError(InputError, FileNotFoundError):
    """A file or folder that the input names does not exist."""


def find_input_error(error: BaseException) -> InputError | None:
    """The `InputError` behind `error`, also when a library (jsonargparse, Lightning) wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, InputError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
