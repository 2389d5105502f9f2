"""jsonargparse's error messages, as a user of `hrnet-lit` needs them: one line naming the key."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from typing import NoReturn

from lightning.pytorch.cli import LightningArgumentParser

from hrnet_lit import compat

_CLASS_ERROR = re.compile(
    r'Parser key "(?P<group>model|data)":\s+Does not validate against any of the Union subtypes.*?'
    r"Problem with given class_path '(?P<cls>[^']+)':\n(?P<inner>.*?)\n    - Expected a <class 'NoneType'>",
    re.DOTALL,
)


_LINK_ERROR = re.compile(r"Call to compute_fn of link '[^']*' with args .* failed: (?P<inner>.*)", re.DOTALL)


def class_error(message: str) -> str:
    """jsonargparse's message for a rejected `--model.*` / `--data.*` value, without the union of
    "the class or None" around it, and with the keys spelt as the user gave them; a value that a
    link between model and data refused is the refusal alone, without the dump of the link's
    arguments."""
    link = _LINK_ERROR.match(message)
    if link is not None:
        return link["inner"].strip()
    found = _CLASS_ERROR.match(message)
    if found is None:
        return message
    group = found["group"]
    inner = textwrap.dedent(found["inner"]).strip()
    inner = re.sub(r"--(\w)", rf"--{group}.\1", inner)
    inner = re.sub(r'(Parser key "|Option \')', rf"\1{group}.", inner)
    return f"{group} ({found['cls']}): {inner}"


class HRNetArgumentParser(LightningArgumentParser):
    """jsonargparse prints the whole usage (over a hundred lines for `fit`) above the message of a
    rejected flag or value; the message and where the options are listed is what a user needs."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or os.environ.get("JSONARGPARSE_DEBUG"):
            super().error(message, ex)
        words = (compat.error_parser(ex) or self).prog.replace(" [options]", "").split()
        command = " ".join(["hrnet-lit", *words[1:]])
        sys.stderr.write(f"{command}: error: {class_error(message)}\n")
        if words[1:]:  # the parse-only parser of the tools has no subcommand, and no `--help` of its own
            sys.stderr.write(f"(`{command} --help` lists the accepted options)\n")
        raise SystemExit(2)
