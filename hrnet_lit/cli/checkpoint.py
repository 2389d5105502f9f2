"""A `--ckpt_path` checkpoint next to a config: which of its saved init arguments a run keeps, and which
contradictions are an error.

Over `--ckpt_path` the checkpoint's hyperparameters are the defaults that the config files and
flags override (later ones win). The task's `architecture` arguments (`HRNetTask.architecture`:
backbone, head, num_classes) come from the checkpoint, since its weights were trained for that
network: a config file's other value gives way (the file is only a default there), and a
command-line flag that contradicts the checkpoint is refused, naming the flag. Of the backbone,
`grad_checkpointing` (recomputation, the same function) and the choice between `batch` and
`sync_batch` norm (the same parameters and buffers) may change. What only the built model knows
(the data module's classes, every weight's shape) is checked once it is built.
"""

from __future__ import annotations

import inspect
from argparse import ArgumentError
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import ArgsType, LightningCLI

from hrnet_lit import compat
from hrnet_lit.cli.flags import flag_values
from hrnet_lit.cli.task_choice import names_class
from hrnet_lit.common.checkpoint_file import read_checkpoint
from hrnet_lit.errors import InputError
from hrnet_lit.models.hrnet import HRNet
from hrnet_lit.models.presets import merge_preset

# Backbone knobs that leave the parameters and the function they compute unchanged.
RUNTIME_BACKBONE_KNOBS = ("grad_checkpointing",)
_SAME_WEIGHTS_NORMS = {"batch", "sync_batch"}


@dataclass(frozen=True)
class CheckpointFit:
    """What the checkpoint fixes that only the built model can be compared with: its architecture
    arguments that the data module fills in (`linked`) and every weight's shape."""

    where: str
    linked: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]


def checkpoint_defaults(cli: LightningCLI, argv: ArgsType) -> CheckpointFit | None:
    """Parse `cli`'s command line (`argv`) again over the `--ckpt_path` checkpoint's hyperparameters as
    defaults, into `cli.config`; None without a checkpoint file to read.

    Lightning parses them over the finished config instead, so the checkpoint silently beat every
    flag (`--model.eval_flip=true` evaluated without flip). Architecture arguments
    (`HRNetTask.architecture`) come from the checkpoint: a config file's other value gives way, and a
    flag that sets one otherwise is an `InputError` naming the flag and both values.
    """
    subcommand = cli.config.get("subcommand")
    if not subcommand:
        return None
    config = cli.config[subcommand]
    if config.get("weights_only") is False:
        raise InputError("--weights_only=false: hrnet-lit loads checkpoints with weights_only=True only")
    path = config.get("ckpt_path")
    if path is None or path in ("best", "last", "hpc", "registry") or str(path).startswith("registry:"):
        return None  # Lightning resolves these names itself (and loads with weights_only=True)
    checkpoint = read_checkpoint(path)
    where = f"--ckpt_path {str(path)!r}"
    task = cli.model_class
    class_path, hparams = model_hparams(checkpoint)
    if class_path is not None and not names_class(class_path, task):
        raise InputError(f"{where} is a checkpoint of {class_path}, not of {task.__qualname__}")
    model = config.model.init_args
    given = set(vars(model)) - set(task.data_args)  # those come from the data module
    arguments = given | set(inspect.signature(task).parameters)
    unknown = sorted(set(hparams) - arguments)
    if unknown:
        raise InputError(
            f"{where}: {', '.join(unknown)} are not arguments of {task.__qualname__} "
            "(a checkpoint of another task?)"
        )
    settable = {k: v for k, v in hparams.items() if k in given}
    over = {subcommand: {"model": {"class_path": config.model.class_path, "init_args": settable}}}
    typed = _parse_over(cli, argv, where, over, cli.config)[subcommand].model.init_args
    saved = {k: typed[k] for k in settable}
    compat.subcommand_parser(cli, subcommand).set_defaults(
        {"model": {"class_path": config.model.class_path, "init_args": settable}}
    )
    cli.config = _parse_over(cli, argv, where, None, None)
    given_model = cli.config[subcommand].model.init_args
    found = contradictions(task.architecture, saved, given_model)
    flags = flag_values(argv or [])
    flagged = [(k, a, b) for k, a, b in found if _flagged(flags, f"model.{k}")]
    if flagged:
        said = [
            f"the flag --model.{k}={show(b)} contradicts the checkpoint's {show(a)}" for k, a, b in flagged
        ]
        raise InputError(
            f"{where}: {'; '.join(said)} (the architecture comes from the checkpoint: drop the flag, "
            "or start a new fit)"
        )
    for key, value, _ in found:  # a config file's value only: the checkpoint's architecture wins
        given_model[key] = value
    linked = {k: hparams[k] for k in task.architecture if k in hparams and k not in given}
    shapes = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items()}
    return CheckpointFit(where, linked, shapes)


def _flagged(flags: dict[str, Any], key: str) -> bool:
    """Whether a command-line flag sets `key` (`model.backbone.width`), itself or a group around it."""
    return any(k == key or k.startswith(f"{key}.") or key.startswith(f"{k}.") for k in flags)


def _parse_over(
    cli: LightningCLI, argv: ArgsType, where: str, hparams: dict[str, Any] | None, base: Namespace | None
) -> Namespace:
    """`hparams` parsed over `base`, or the command line again when None; a rejected value names
    the checkpoint."""
    parser = cli.parser
    exit_on_error, parser.exit_on_error = parser.exit_on_error, False
    try:
        if hparams is None:
            cli.parse_arguments(parser, argv)
            return cli.config
        return parser.parse_object(hparams, base.clone())
    except ArgumentError as error:
        raise InputError(f"{where}: its hyperparameters do not parse: {error}") from None
    finally:
        parser.exit_on_error = exit_on_error


def check_built_model(fit: CheckpointFit, model: LightningModule, data: LightningDataModule) -> None:
    """What only the built model knows: the data module's classes, and every weight's shape."""
    for key, value in fit.linked.items():
        if model.hparams.get(key) != value:
            raise InputError(
                f"{fit.where}: model.{key}: the checkpoint has {show(value)}, the data module "
                f"({type(data).__qualname__}) gives {show(model.hparams.get(key))}"
            )
    built = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    shapes = fit.shapes
    if built != shapes:
        missing = sorted(set(built) - set(shapes))[:3]
        unexpected = sorted(set(shapes) - set(built))[:3]
        common = sorted(set(built) & set(shapes))
        other = [f"{k} {list(shapes[k])} vs {list(built[k])}" for k in common if built[k] != shapes[k]]
        raise InputError(
            f"{fit.where} does not fit {type(model).__qualname__}: missing {missing}, unexpected "
            f"{unexpected}, shapes (checkpoint vs model) {other[:3]}"
        )


def model_hparams(checkpoint: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The task class path saved in `checkpoint` (None when the CLI did not record one) and its init
    arguments as plain data (a task built in Python saves its `BackboneConfig` as an object)."""
    hparams = {
        k: asdict(v) if is_dataclass(v) and not isinstance(v, type) else v
        for k, v in dict(checkpoint["hyper_parameters"]).items()
    }
    hparams.pop("_instantiator", None)
    return hparams.pop("_class_path", None), hparams


def contradictions(architecture: tuple[str, ...], saved: Any, given: Any) -> list[tuple[str, Any, Any]]:
    """(key, checkpoint value, config value) for each architecture argument where the config or
    flags (`given`, a parsed model namespace) build another network than the checkpoint (`saved`)."""
    found = []
    for key in architecture:
        if key not in saved or key not in given:
            continue  # a link target (num_classes) is checked once the data module gives it
        if key == "backbone":
            found += [
                (f"backbone.{k}", a, b)
                for k, a, b in _backbone_contradictions(_plain(saved[key]), _plain(given[key]))
            ]
        elif _plain(saved[key]) != _plain(given[key]):
            found.append((key, saved[key], given[key]))
    return found


def _backbone_contradictions(saved: dict[str, Any], given: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Knobs that differ, when the networks they resolve to (preset, then every set knob) differ."""
    if _resolved(saved) == _resolved(given):
        return []
    keys = [k for k in saved if k not in RUNTIME_BACKBONE_KNOBS and saved[k] != given.get(k)]
    return [(k, saved[k], given.get(k)) for k in keys if not _same_norm(k, saved[k], given.get(k))]


def _resolved(backbone: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        name: p.default
        for name, p in inspect.signature(HRNet).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    knobs = {k: v for k, v in backbone.items() if k not in RUNTIME_BACKBONE_KNOBS and k != "preset"}
    resolved = {**defaults, **merge_preset(backbone.get("preset") or None, knobs)}
    if resolved.get("norm") in _SAME_WEIGHTS_NORMS:
        resolved["norm"] = "batch"
    return _plain(resolved)


def _same_norm(key: str, saved: Any, given: Any) -> bool:
    return key == "norm" and {saved, given} <= _SAME_WEIGHTS_NORMS


def _plain(value: Any) -> Any:
    """Lists for tuples and dicts for namespaces, so that saved YAML and parsed values compare."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def show(value: Any) -> str:
    """A value as it is written in a config or flag."""
    plain = _plain(value)
    if isinstance(plain, list):
        return "[" + ",".join(show(v) for v in plain) + "]"
    if plain is None:
        return "null"
    if isinstance(plain, bool):
        return str(plain).lower()
    return str(plain)
