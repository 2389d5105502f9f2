"""Where a run writes, decided and checked before anything is built.

- `--trainer.default_root_dir` on the command line moves everything a run writes: it becomes the
  loggers' `save_dir` (which the configs set), unless a flag sets that too.
- `validate`, `test` and `predict` log under `<save_dir>/<name>/<command>/version_N`, so they never
  shift the numbering of the training runs in `<save_dir>/<name>/version_N`.
- Every output folder must be a folder that can be written: a file in its place, or a read-only
  folder, is an `InputError` naming the key, not a `PermissionError` at the first save.
- Nothing a run writes may replace another run's files: a fit whose checkpoint folder already holds
  checkpoints (`--checkpoint.dirpath`, `--last_checkpoint.dirpath`, a logger `version` of an existing
  run) is refused unless it resumes that run (`--ckpt_path` from that folder), and so is a predict
  into a results folder that is not empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonargparse import Namespace

from hrnet_lit import compat
from hrnet_lit.cli.task_choice import import_class
from hrnet_lit.common.atomic import writable_folder
from hrnet_lit.errors import InputError

# Loggers whose runs are `<save_dir>/<name>/<version>` (Lightning's CSV and TensorBoard loggers).
_VERSIONED = ("lightning.pytorch.loggers.CSVLogger", "lightning.pytorch.loggers.TensorBoardLogger")


def logger_configs(logger: Any) -> list[Namespace]:
    """The `class_path` + `init_args` entries of a parsed `trainer.logger` (one, a list, or none)."""
    entries = logger if isinstance(logger, list) else [logger]
    return [e for e in entries if isinstance(e, Namespace) and isinstance(e.get("init_args"), Namespace)]


def _versioned(logger: Namespace) -> bool:
    cls = import_class(logger.class_path)
    return any(issubclass(cls, import_class(path)) for path in _VERSIONED) and "name" in logger.init_args


def place_outputs(config: Namespace, subcommand: str, flags: dict[str, Any]) -> None:
    """`--trainer.default_root_dir` moves the loggers (unless a flag sets their `save_dir`), and an
    evaluation logs into a `<command>` folder of its own (see the module docstring)."""
    loggers = logger_configs(config.trainer.logger)
    moved = "trainer.default_root_dir" in flags and not any(
        k.startswith("trainer.logger") and k.endswith("save_dir") for k in flags
    )
    for logger in loggers:
        if moved and "save_dir" in logger.init_args:
            logger.init_args.save_dir = config.trainer.default_root_dir
        if subcommand != "fit" and _versioned(logger):
            name = logger.init_args.name
            logger.init_args.name = f"{name}/{subcommand}" if name else subcommand


def check_outputs(config: Namespace, subcommand: str, flags: dict[str, Any]) -> None:
    """Each output folder of the run can be written, and holds no other run's files. The
    `default_root_dir` is checked where the run writes into it: without a logger, or when a flag
    names it (it then moves the loggers)."""
    trainer = config.trainer
    loggers = logger_configs(trainer.logger)
    folders = [("trainer.logger.save_dir", lg.init_args.get("save_dir")) for lg in loggers]
    if not loggers or "trainer.default_root_dir" in flags:
        folders.append(("trainer.default_root_dir", trainer.default_root_dir))
    if subcommand == "fit":
        folders += [(f"{k}.dirpath", config[k].get("dirpath")) for k in ("checkpoint", "last_checkpoint")]
    if subcommand == "predict":
        folders.append(("predict_writer.output_dir", config.predict_writer.get("output_dir")))
    for key, folder in folders:
        if folder is not None and compat.is_local_path(str(folder)):
            writable_folder(key, Path(folder))
    if subcommand == "fit":
        resumed = config.get("ckpt_path")
        for key in ("checkpoint", "last_checkpoint"):
            if config[key].get("dirpath") is not None:
                no_other_run(f"{key}.dirpath", Path(config[key].dirpath), resumed)
        for logger in loggers:
            version = logger.init_args.get("version")
            if version is not None and _versioned(logger):
                run = Path(logger.init_args.save_dir, logger.init_args.name or "")
                run = run / (version if isinstance(version, str) else f"version_{version}")
                no_other_run("trainer.logger.version", run / "checkpoints", resumed)
    output = config.get("predict_writer", Namespace()).get("output_dir")
    if (
        subcommand == "predict"
        and output is not None
        and Path(output).is_dir()
        and any(Path(output).iterdir())
    ):
        raise InputError(
            f"predict_writer.output_dir={output} already holds files (an earlier predict's?), which this "
            "one would replace: choose a new or empty folder"
        )


def no_other_run(key: str, folder: Path, resumed: str | None) -> None:
    """An `InputError` if `folder` already holds checkpoints, unless the fit resumes from one of them."""
    found = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
    if not found:
        return
    if resumed is not None and Path(resumed).resolve().parent == folder.resolve():
        return  # resuming that run: its own checkpoints move on
    last = "last.ckpt" if "last.ckpt" in found else found[-1]
    raise InputError(
        f"{key}: {folder} holds the checkpoints of another run ({', '.join(found[:3])}), which this fit "
        f"would overwrite: choose a new folder, or resume that run with --ckpt_path={folder / last}"
    )
