"""What every bad-input table shares: a row (`Case`), and running it to the one message it must end
with (`refusal`): `InputError` from the API, or exit status 2 from `hrnet-lit` with no traceback and
no config dump. Each table then checks what its commands must not have written."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hrnet_lit.cli import main
from hrnet_lit.errors import InputError


@dataclass(frozen=True)
class Case:
    """`make(tmp)` writes the bad input under tmp and returns a `hrnet-lit` argv (run by `main`) or a
    thunk that calls the public API; `names` is a regex the message must match."""

    id: str
    make: Callable[[Path], list[str] | Callable[[], object]]
    names: str


def log_to_this_stderr() -> None:
    """Loggers (Lightning's) keep the stderr of the test that first imported them, closed by now."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler and getattr(handler.stream, "closed", False):
                handler.stream = sys.stderr


def refusal(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, bool]:
    """(the message `case` ends with, whether it came through the CLI), its common checks passed."""
    made = case.make(tmp_path)
    if callable(made):
        with pytest.raises(InputError) as error:
            made()
        return str(error.value), False
    capsys.readouterr()
    log_to_this_stderr()
    with pytest.raises(SystemExit) as exit_info:
        main(made)
    message = capsys.readouterr().err
    assert exit_info.value.code == 2, message
    assert "Traceback" not in message and "Namespace(" not in message  # no traceback, no config dump
    return message, True
