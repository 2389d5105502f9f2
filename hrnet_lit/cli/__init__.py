"""The `hrnet-lit` entry point: LightningCLI (fit / validate / test / predict) plus the project's tools.

Lightning is imported only for the commands that need it, so the tools start fast. A bad input
(`InputError`) ends the command with its message and exit status 2, not with a traceback; set
`HRNET_LIT_TRACEBACK=1` to see where it was raised.
"""

from __future__ import annotations

import importlib
import os
import sys

from hrnet_lit.cli.video import is_video_predict
from hrnet_lit.cli.video import main as predict_video_main
from hrnet_lit.errors import InputError, find_input_error, input_message

# Commands that are not Trainer methods, each a module with `main(argv)`.
TOOLS = {
    "summary": "hrnet_lit.tools.summary",
    "bench": "hrnet_lit.tools.bench",
    "export": "hrnet_lit.tools.export",
    "sweep": "hrnet_lit.tools.sweep.cli",
}

# One line per command for `hrnet-lit --help`, kept here so that listing the tools imports none of them.
LIGHTNING_LINES = {
    "fit": "train, validating every epoch; keeps the best and the last checkpoint",
    "validate": "score a model (--ckpt_path) on the validation split",
    "test": "score a model (--ckpt_path) on the test split",
    "predict": "write a colour mask per image of --data.predict_dir (a video: see docs/video.md)",
}
TOOL_LINES = {
    "summary": "parameters and multiply-accumulates of a network, before training it",
    "bench": "speed and memory of our HRNet against timm's; --data: a config's loaders per core",
    "export": "ONNX file of a fresh network, a fit config's or a checkpoint's",
    "sweep": "run a W&B sweep file locally on Optuna (no W&B server)",
}


def usage() -> str:
    """`hrnet-lit --help`: every command with one line, without importing Lightning."""
    lines = ["usage: hrnet-lit <command> [--config FILE] [flags]   (hrnet-lit <command> --help)", ""]
    for title, commands in (("LightningCLI commands:", LIGHTNING_LINES), ("tools:", TOOL_LINES)):
        lines += [title, *(f"  {name:<10}{line}" for name, line in commands.items()), ""]
    return "\n".join(lines).rstrip()


def check_config_files(args: list[str]) -> None:
    """Refuse a `--config` file that is not valid YAML by its name: jsonargparse reports the YAML
    error but not which file holds it."""
    import yaml

    for k, arg in enumerate(args):
        if arg in ("--config", "-c") and k + 1 < len(args):
            path = args[k + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
        else:
            continue
        if os.path.isfile(path):
            try:
                with open(path) as file:
                    yaml.safe_load(file)
            except (yaml.YAMLError, UnicodeDecodeError) as error:
                raise InputError(f"config file {path} is not valid YAML: {error}") from None


def main(argv: list[str] | None = None) -> None:
    """`hrnet-lit`; output into a pipe that closes early (`hrnet-lit --help | head`) ends it quietly,
    as a shell command killed by SIGPIPE does (status 141), not with a BrokenPipeError."""
    try:
        try:
            run(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout once more at exit: point it at /dev/null, so that flush cannot fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141) from None


def run(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return
    try:
        check_config_files(args)
        if args and args[0] in TOOLS:
            importlib.import_module(TOOLS[args[0]]).main(args[1:])
        elif args[0] == "predict" and is_video_predict(args[1:]):
            predict_video_main(args[1:])
        else:
            from hrnet_lit.cli.app import lightning_cli

            lightning_cli(argv)
    except Exception as error:
        cause = find_input_error(error)
        if cause is None or os.environ.get("HRNET_LIT_TRACEBACK"):
            raise
        command = args[0] if args else ""
        sys.stderr.write(f"hrnet-lit {command}: error: {input_message(cause)}\n")
        raise SystemExit(2) from None
