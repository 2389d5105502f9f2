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


def input_message(error: InputError) -> str:
    """What the user is told about `error`.

    A DataLoader worker re-raises its error in the main process with the worker's whole traceback as
    the message ("Caught InputError in DataLoader worker process 0. Original Traceback ..."); the
    user's message is what follows the traceback's last line, `<module>.<class>: `.
    """
    message = str(error)
    if "Original Traceback" not in message:
        return message
    marker = f"{type(error).__module__}.{type(error).__qualname__}: "
    return message.rpartition(marker)[2].strip() if marker in message else message
