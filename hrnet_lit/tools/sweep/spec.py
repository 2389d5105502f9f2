"""A W&B sweep file, read and checked, and mapped onto Optuna (sampler, distributions, pruner)."""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from hrnet_lit.errors import InputError

# The keys of a W&B sweep file.
SWEEP_KEYS = {"program", "method", "metric", "parameters", "early_terminate", "command", "run_cap"}
SWEEP_KEYS |= {"name", "description", "project", "entity"}  # W&B bookkeeping, unused locally
SAMPLERS = {
    "grid": optuna.samplers.GridSampler,
    "random": optuna.samplers.RandomSampler,
    "bayes": optuna.samplers.TPESampler,
}
# W&B distribution -> (Optuna kind, log scale, quantized).
DISTRIBUTIONS = {
    "constant": ("categorical", False, False),
    "categorical": ("categorical", False, False),
    "int_uniform": ("int", False, False),
    "uniform": ("float", False, False),
    "q_uniform": ("float", False, True),
    "log_uniform": ("float", True, False),  # min / max are natural-log exponents
    "log_uniform_values": ("float", True, False),
    "q_log_uniform_values": ("float", True, True),
}
GOALS = ("maximize", "minimize")
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
ENVVAR = re.compile(r"\$\{envvar:([A-Z0-9_]*)\}")
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL")


class SweepError(InputError):
    """A sweep file that cannot run as written; raised before any run starts."""


@dataclass(frozen=True)
class Param:
    """One swept flag and its W&B distribution, drawn through an Optuna trial.

    Categorical values that Optuna cannot store (lists, mappings) are kept as the string the agent
    would put on the command line, which is all a run ever sees of them.
    """

    key: str
    kind: str  # categorical | int | float
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    q: float | None = None

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, self.choices)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.q or 1))
        if self.log and self.q:  # Optuna has no quantized log scale: quantize the draw
            return round(trial.suggest_float(self.key, self.low, self.high, log=True) / self.q) * self.q
        return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.q)

    def extremes(self) -> list[Any]:
        """Values whose flags are checked before the sweep starts: every choice, or both bounds."""
        if self.kind == "categorical":
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.kind == "int" else [self.low, self.high]


def parse_param(key: str, spec: Any) -> Param:
    if not isinstance(spec, dict):
        raise SweepError(f"parameter {key}: expected a mapping like {{values: [...]}}, got {spec!r}")
    unknown = set(spec) - {"values", "value", "distribution", "min", "max", "q"}
    if unknown:
        raise SweepError(f"parameter {key}: unsupported keys {sorted(unknown)}")
    if "value" in spec:
        default = "constant"
    elif "values" in spec:
        default = "categorical"
    elif "min" in spec and "max" in spec:
        default = "int_uniform" if all(isinstance(spec[k], int) for k in ("min", "max")) else "uniform"
    else:
        raise SweepError(f"parameter {key} has no values: give `values`, `value`, or `min` and `max`")
    name = spec.get("distribution", default)
    if name not in DISTRIBUTIONS:
        raise SweepError(
            f"parameter {key}: distribution {name!r} is not supported (use one of {sorted(DISTRIBUTIONS)})"
        )
    kind, log, quantized = DISTRIBUTIONS[name]
    if kind == "categorical":
        values = [spec["value"]] if name == "constant" else spec.get("values")
        if not isinstance(values, list) or not values:
            raise SweepError(f"parameter {key} has no values: `values` must be a non-empty list")
        return Param(
            key, kind, tuple(v if isinstance(v, str | int | float | bool) else str(v) for v in values)
        )
    if not all(isinstance(spec.get(k), int | float) for k in ("min", "max")) or spec["min"] >= spec["max"]:
        raise SweepError(
            f"parameter {key}: {name} needs numbers min < max, got {spec.get('min')}, {spec.get('max')}"
        )
    low, high = (math.exp(spec[k]) if name == "log_uniform" else spec[k] for k in ("min", "max"))
    return Param(key, kind, low=low, high=high, log=log, q=spec.get("q", 1.0) if quantized else None)


def make_pruner(spec: Any) -> optuna.pruners.BasePruner:
    """W&B `early_terminate` (hyperband) as Optuna's HyperbandPruner; no spec: never prune."""
    if spec is None:
        return optuna.pruners.NopPruner()
    if not isinstance(spec, dict) or spec.get("type") != "hyperband":
        raise SweepError(f"early_terminate: only `type: hyperband` exists, got {spec!r}")
    unknown = set(spec) - {"type", "min_iter", "max_iter", "s", "eta", "strict"}
    if unknown:
        raise SweepError(f"early_terminate: unsupported keys {sorted(unknown)}")
    eta = spec.get("eta", 3)
    min_iter = spec.get("min_iter")
    if min_iter is None:
        if "max_iter" not in spec or "s" not in spec:
            raise SweepError("early_terminate: hyperband needs `min_iter`, or `max_iter` and `s`")
        min_iter = max(1, spec["max_iter"] // eta ** spec["s"])
    return optuna.pruners.HyperbandPruner(min_iter, spec.get("max_iter", "auto"), reduction_factor=eta)


@dataclass(frozen=True)
class Sweep:
    """A W&B sweep file, checked and mapped onto Optuna."""

    name: str
    method: str
    metric: str
    goal: str  # maximize | minimize
    parameters: tuple[Param, ...]
    command: tuple[str, ...]
    run_cap: int | None
    pruner: optuna.pruners.BasePruner

    def run_command(self, values: dict[str, Any]) -> list[str]:
        """What an agent runs for `values` (W&B's macros; `--key={value}` formatted as W&B does)."""
        macros = {
            "${env}": ["/usr/bin/env"],
            "${interpreter}": ["python"],
            "${args}": [f"--{k}={v}" for k, v in values.items()],
        }
        return [out for token in self.command for out in macros.get(token, [token])]

    def sampler(self) -> optuna.samplers.BaseSampler:
        if self.method == "grid":
            return optuna.samplers.GridSampler({p.key: list(p.choices) for p in self.parameters})
        return SAMPLERS[self.method]()

    @property
    def grid(self) -> list[dict[str, Any]]:
        """Every combination of a grid sweep, in the file's order."""
        keys = [p.key for p in self.parameters]
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(p.choices for p in self.parameters))
        ]

    def total(self) -> int | None:
        """Runs in the whole sweep: the grid, or `run_cap` (None: unbounded)."""
        return len(self.grid) if self.method == "grid" else self.run_cap


def locate_configs(command: list[str], sweep_file: Path) -> list[str]:
    """`command` with each relative `--config` file that is not in the current folder (where
    `wandb agent` would read it) taken from the sweep file's folder or the nearest one above it that
    has it: `configs/sweeps/*.yaml` name `configs/quickstart.yaml` of their repository, from any folder.
    """
    located = list(command)
    for i, token in enumerate(command):
        if token == "--config" and i + 1 < len(command):
            at, prefix, name = i + 1, "", command[i + 1]
        elif token.startswith("--config="):
            at, prefix, name = i, "--config=", token.partition("=")[2]
        else:
            continue
        config = Path(name)
        if config.is_absolute() or config.exists():
            continue
        found = [d / config for d in sweep_file.resolve().parents if (d / config).is_file()]
        if not found:
            raise SweepError(
                f"command: config file {config} not found in {Path.cwd()}, nor in {sweep_file.parent} "
                "or a folder above it"
            )
        located[at] = prefix + str(found[0])
    return located


def load_sweep(path: Path) -> Sweep:
    """Read and check a sweep file (everything but the CLI flags, see `check_flags`)."""
    if not path.is_file():
        raise SweepError("sweep file not found")
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SweepError(f"cannot read it: {err}") from err
    if not isinstance(spec, dict):
        raise SweepError("expected a mapping with method, metric, parameters and command")
    unknown = set(spec) - SWEEP_KEYS
    if unknown:
        raise SweepError(f"unknown keys {sorted(unknown)} (a W&B sweep has {sorted(SWEEP_KEYS)})")
    method = spec.get("method")
    if method not in SAMPLERS:
        raise SweepError(f"unknown method {method!r}: use one of {sorted(SAMPLERS)}")
    metric = spec.get("metric")
    if not isinstance(metric, dict) or "name" not in metric or metric.get("goal", "minimize") not in GOALS:
        raise SweepError(f"metric must be {{name: ..., goal: maximize|minimize}}, got {metric!r}")
    parameters = spec.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise SweepError("no parameters to sweep")
    params = tuple(parse_param(str(key), value) for key, value in parameters.items())
    if method == "grid" and any(p.kind != "categorical" for p in params):
        raise SweepError(
            f"grid search needs `values` for {[p.key for p in params if p.kind != 'categorical']}"
        )
    secret = [
        name for t in spec.get("command", []) for name in ENVVAR.findall(str(t)) if SECRET_NAME.search(name)
    ]
    if secret:
        raise SweepError(
            f"command: ${{envvar:{secret[0]}}} would put a secret on the command line, where the sweep's "
            "log, its study and the run's config record it; let the run read it from the environment"
        )
    command = [
        ENVVAR.sub(lambda m: os.environ.get(m[1], m[1]), str(t)) for t in spec.get("command", DEFAULT_COMMAND)
    ]
    if "${program}" in command:
        if "program" not in spec:
            raise SweepError("command uses ${program} but the file has no `program`")
        command = [str(spec["program"]) if t == "${program}" else t for t in command]
    macros = [t for t in command if t.startswith("${")]
    if set(macros) - {"${env}", "${interpreter}", "${args}"}:
        raise SweepError(f"command: unsupported macros {macros}")
    if "${args}" not in command:
        raise SweepError("command has no ${args}: runs would not get the swept flags")
    configs = [i for i, t in enumerate(command) if t == "--config" or t.startswith("--config=")]
    if configs and max(configs) > command.index("${args}"):
        raise SweepError(
            "command: ${args} must come after every --config, or the file overrides the swept flags"
        )
    hrnet = [i for i, t in enumerate(command) if Path(t).name == "hrnet-lit"]
    if not hrnet or command[hrnet[0] + 1 : hrnet[0] + 2] != ["fit"]:
        raise SweepError(f"command must run `hrnet-lit fit ...`, got {command}")
    command = locate_configs(command, path)
    run_cap = spec.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or run_cap < 1):
        raise SweepError(f"run_cap must be a positive integer, got {run_cap!r}")
    return Sweep(
        name=path.stem,
        method=method,
        metric=metric["name"],
        goal=metric.get("goal", "minimize"),
        parameters=params,
        command=tuple(command),
        run_cap=run_cap,
        pruner=make_pruner(spec.get("early_terminate")),
    )
