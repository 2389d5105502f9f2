"""Every private Lightning, jsonargparse and torch name hrnet-lit relies on, in one place.

A private name may change in any minor release, and where one breaks, resume or a checkpoint's
safety breaks with it, silently. So the rest of the package calls the functions here, never a private
name, and `tests/test_compat.py` checks each entry of `PRIVATE_NAMES` against the installed versions.
Lightning is imported lazily (only `_is_local_file_protocol` needs an import), since models/ imports
this module and must start without Lightning.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from torch.nn.modules.batchnorm import _BatchNorm


@dataclass(frozen=True)
class PrivateName:
    """`name` in `owner` (`module` or `module:Class`): a `function`, `class`, `method`, `attribute`
    (assigned in the owner class's code, as `<object>.name = ...`) or `override` (a method that an
    hrnet-lit subclass replaces, calling the original); `params` are a callable's parameter names."""

    owner: str
    name: str
    kind: Literal["function", "class", "method", "attribute", "override"]
    params: tuple[str, ...] | None = None


BATCH_NORM = PrivateName("torch.nn.modules.batchnorm", "_BatchNorm", "class")
IS_LOCAL_FILE = PrivateName(
    "lightning.fabric.utilities.cloud_io", "_is_local_file_protocol", "function", ("path",)
)
SIGNAL_CONNECTOR = PrivateName("lightning.pytorch.trainer.trainer:Trainer", "_signal_connector", "attribute")
RECEIVED_SIGTERM = PrivateName(
    "lightning.pytorch.trainer.connectors.signal_connector:_SignalConnector", "received_sigterm", "attribute"
)
LOADER_STATES = PrivateName(
    "lightning.pytorch.loops.fit_loop:_FitLoop", "_load_combined_loader_states", "method", ("self",)
)
LAST_STEP_SAVED = PrivateName(
    "lightning.pytorch.callbacks.model_checkpoint:ModelCheckpoint", "_last_global_step_saved", "attribute"
)
SAVES_ON_EPOCH_END = PrivateName(
    "lightning.pytorch.callbacks.model_checkpoint:ModelCheckpoint",
    "_should_save_on_train_epoch_end",
    "method",
    ("self", "trainer"),
)
MONITOR_CANDIDATES = PrivateName(
    "lightning.pytorch.callbacks.model_checkpoint:ModelCheckpoint",
    "_monitor_candidates",
    "method",
    ("self", "trainer"),
)
SAVE_CHECKPOINT = PrivateName(
    "lightning.pytorch.callbacks.model_checkpoint:ModelCheckpoint",
    "_save_checkpoint",
    "method",
    ("self", "trainer", "filepath"),
)
SUBCOMMAND_PARSERS = PrivateName("lightning.pytorch.cli:LightningCLI", "_subcommand_parsers", "attribute")
METHOD_ARGUMENTS = PrivateName(
    "lightning.pytorch.cli:LightningCLI", "_subcommand_method_arguments", "attribute"
)
ERROR_PARSER = PrivateName("jsonargparse._core:ArgumentParser", "subcommand_parser", "attribute")
# torchvision's IoU matcher of the RPN and RoI heads, which the detector's floored matcher extends.
DETECTION_MATCHER = PrivateName("torchvision.models.detection._utils", "Matcher", "class")

# The LightningCLI methods that HRNetCLI overrides (the overrides stay in `hrnet_lit.cli.app`).
OVERRIDDEN = (
    PrivateName(
        "lightning.pytorch.cli:LightningCLI",
        "_prepare_subcommand_parser",
        "override",
        ("self", "klass", "subcommand", "kwargs"),
    ),
    PrivateName("lightning.pytorch.cli:LightningCLI", "_parse_ckpt_path", "override", ("self",)),
    PrivateName("lightning.pytorch.cli:LightningCLI", "_run_subcommand", "override", ("self", "subcommand")),
)

PRIVATE_NAMES = (
    BATCH_NORM,
    IS_LOCAL_FILE,
    SIGNAL_CONNECTOR,
    RECEIVED_SIGTERM,
    LOADER_STATES,
    LAST_STEP_SAVED,
    SAVES_ON_EPOCH_END,
    MONITOR_CANDIDATES,
    SAVE_CHECKPOINT,
    SUBCOMMAND_PARSERS,
    METHOD_ARGUMENTS,
    ERROR_PARSER,
    DETECTION_MATCHER,
    *OVERRIDDEN,
)

# Base of BatchNorm1d/2d/3d and SyncBatchNorm: "any batch norm", which torch names publicly nowhere.
BatchNorm = _BatchNorm


def detection_matcher() -> type:
    """torchvision's `Matcher` (imported on first use: models/ must start without torchvision's detection)."""
    return getattr(importlib.import_module(DETECTION_MATCHER.owner), DETECTION_MATCHER.name)


def is_local_path(path: str) -> bool:
    """Whether `path` is on the local file system (not `s3://` ...): only there is a rename atomic.
    Lightning's own test, so that the two agree on which paths it writes itself."""
    module = importlib.import_module(IS_LOCAL_FILE.owner)
    return bool(getattr(module, IS_LOCAL_FILE.name)(path))


def load_train_loader_states(trainer: Any) -> None:
    """Hand a resumed stateful train loader its saved state now: Lightning does so only when it
    builds the loader after the restore, which `estimated_stepping_batches` prevents."""
    getattr(trainer.fit_loop, LOADER_STATES.name)()


def sigterm_received(trainer: Any) -> bool:
    """Whether the Trainer caught SIGTERM (public only as the exception it raises at the next batch)."""
    return bool(getattr(getattr(trainer, SIGNAL_CONNECTOR.name), RECEIVED_SIGTERM.name))


def set_sigterm_received(trainer: Any, received: bool) -> None:
    """Hold (False) or hand back (True) a caught SIGTERM, so that validation is not cut short."""
    setattr(getattr(trainer, SIGNAL_CONNECTOR.name), RECEIVED_SIGTERM.name, received)


def last_global_step_saved(callback: Any) -> int:
    """The global step of a ModelCheckpoint's last save: not saving twice for one step."""
    return int(getattr(callback, LAST_STEP_SAVED.name))


def saves_on_train_epoch_end(callback: Any, trainer: Any) -> bool:
    """Whether a ModelCheckpoint saves after the train epoch (else after validation), as Lightning decides."""
    return bool(getattr(callback, SAVES_ON_EPOCH_END.name)(trainer))


def monitor_candidates(callback: Any, trainer: Any) -> dict[str, Any]:
    """The metrics (and epoch, step) a ModelCheckpoint fills its file name with."""
    return dict(getattr(callback, MONITOR_CANDIDATES.name)(trainer))


def save_checkpoint(callback: Any, trainer: Any, filepath: str) -> None:
    """A ModelCheckpoint's save: the Trainer's save plus its bookkeeping (last step, loggers)."""
    getattr(callback, SAVE_CHECKPOINT.name)(trainer, filepath)


def subcommand_parser(cli: Any, subcommand: str) -> Any:
    """The parser of one LightningCLI subcommand (`fit`, ...), whose defaults a checkpoint sets."""
    return getattr(cli, SUBCOMMAND_PARSERS.name)[subcommand]


def subcommand_method_arguments(cli: Any, subcommand: str) -> list[str]:
    """The Trainer method's arguments (`ckpt_path`, `weights_only`, ...) that a LightningCLI
    subcommand passes on."""
    return list(getattr(cli, METHOD_ARGUMENTS.name)[subcommand])


def error_parser(error: Exception | None) -> Any:
    """The subcommand parser that jsonargparse attaches to a rejected argument's error, if any: the
    command a message is about."""
    return getattr(error, ERROR_PARSER.name, None)
