"""`hrnet-lit sweep`: run a W&B sweep file locally on Optuna, with no W&B server.

The file is the one `wandb sweep` takes. Each run is the command a W&B agent would run (the file's
`command`, `${args}` expanded as `--key=value`), in its own process and folder; its metrics.csv gives
the sweep metric. Trials live in an Optuna storage, so an interrupted sweep resumes where it stopped
and several machines can share one study.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import itertools
import logging
import math
import os
import re
import shlex
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch.loggers import CSVLogger
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from hrnet_lit.cli import parse_fit_args
from hrnet_lit.models import gmacs
from hrnet_lit.summary import summarize_fit_config

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
FAILURE_LINE = re.compile(r"^(error: .*|[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*)$")
POLL_S = 2.0  # how often a running run's metrics.csv is read for new epochs
HEARTBEAT_S, GRACE_S = 30, 90  # a RUNNING trial without a heartbeat for GRACE_S is retried


class SweepError(ValueError):
    """A sweep file that cannot run as written; raised before any run starts."""


class RunFailed(Exception):
    """A run exited non-zero or logged no metric: recorded as failed, and the sweep goes on."""


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


def load_sweep(path: Path) -> Sweep:
    """Read and check a sweep file (everything but the CLI flags, see `check_flags`)."""
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


def fit_args(command: list[str]) -> list[str]:
    """The `hrnet-lit fit` flags of a run command."""
    start = next(i for i, token in enumerate(command) if Path(token).name == "hrnet-lit")
    return command[start + 2 :]


def parse_run(args: list[str]) -> Any:
    """The resolved config of `hrnet-lit fit <args>`; SweepError with the CLI's message if rejected."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return parse_fit_args(args)
    except SystemExit as err:
        message = stderr.getvalue().rpartition("error: ")[2].strip() or f"exit {err.code}"
        raise SweepError(f"`hrnet-lit fit` rejects {shlex.join(args)}:\n{message}") from None


def check_flags(sweep: Sweep, extra: list[str]) -> bool:
    """Parse runs through the real CLI parser before any starts: every grid combination, or each value
    of each parameter (bounds of ranges) with the others at their first.

    Returns whether the runs need a CSVLogger next to their own logger (see `placement`).
    """
    if any(a == "--config" or a.startswith("--config=") for a in extra):
        raise SweepError("--extra must not hold --config: it would override the swept flags")
    swept = {p.key for p in sweep.parameters}
    clashes = [a for a in extra if a[2:].partition("=")[0].rstrip("+") in swept]
    if clashes:
        raise SweepError(f"--extra {clashes} would override swept parameters")
    if sweep.method == "grid":
        runs = sweep.grid
    else:
        first = {p.key: p.extremes()[0] for p in sweep.parameters}
        runs = [{**first, p.key: v} for p in sweep.parameters for v in p.extremes()]
    configs = [parse_run(fit_args(sweep.run_command(values)) + extra) for values in runs]
    logger = configs[0].trainer.logger
    if not hasattr(logger, "class_path"):
        raise SweepError(f"a local sweep needs one logger in trainer.logger, got {logger!r}")
    module, _, name = logger.class_path.rpartition(".")
    return not issubclass(getattr(importlib.import_module(module), name), CSVLogger)


def placement(run_dir: Path, add_csv: bool) -> list[str]:
    """Flags that put a run's logs and checkpoints into `run_dir` and give it a metrics.csv there: its
    logger's save_dir, and with `add_csv` a CSVLogger next to it (e.g. next to W&B)."""
    save_dir = f"--trainer.logger.init_args.save_dir={run_dir}"
    if add_csv:
        return [save_dir, "--trainer.logger+=lightning.pytorch.loggers.CSVLogger", save_dir]
    return [save_dir]


def metric_values(run_dir: Path, metric: str, since: float) -> list[float]:
    """The metric's values, in logged order, from the metrics.csv written in `run_dir` since `since`.

    A line still being written (no newline yet) is left for the next read.
    """
    files = [p for p in run_dir.rglob("metrics.csv") if p.stat().st_mtime >= since]
    if not files:
        return []
    text = max(files, key=lambda p: p.stat().st_mtime).read_text()
    complete = text[: text.rfind("\n") + 1]
    return [float(row[metric]) for row in csv.DictReader(io.StringIO(complete)) if row.get(metric)]


def failure(log: Path, returncode: int) -> str:
    """First line of the run's final error (the exception line of a traceback, or jsonargparse's)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    errors = [line for line in lines if FAILURE_LINE.match(line)]
    return errors[-1] if errors else f"exit code {returncode}"


def best(values: list[float], goal: str) -> float | None:
    return (max if goal == "maximize" else min)(values) if values else None


class Objective:
    """One Optuna trial = one run: the agent's command in its own process and folder.

    While it runs, each new value of the metric in its metrics.csv is reported to the trial (step 1,
    2, ... as W&B counts hyperband iterations), so a pruner can stop it between validations.
    """

    def __init__(
        self, sweep: Sweep, output: Path, extra: list[str], add_csv: bool, input_size: tuple[int, int] | None
    ) -> None:
        self.sweep = sweep
        self.output = output
        self.extra = extra
        self.add_csv = add_csv
        self.input_size = input_size
        bin_dir = str(Path(sys.executable).parent)  # `hrnet-lit` and `python` of this environment
        self.env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
        self.env.setdefault("WANDB_MODE", "offline")  # no W&B server: W&B loggers write offline runs

    def __call__(self, trial: optuna.Trial) -> float:
        values = {p.key: p.suggest(trial) for p in self.sweep.parameters}
        run_dir = self.output / "runs" / str(trial.number)
        run_dir.mkdir(parents=True, exist_ok=True)
        command = self.sweep.run_command(values) + self.extra
        trial.set_user_attr("values", values)
        trial.set_user_attr("command", command)
        print(f"run {trial.number}: {shlex.join(command)}", flush=True)
        start = time.time()
        try:
            value = self._run(trial, command + placement(run_dir, self.add_csv), run_dir, start)
        finally:
            trial.set_user_attr("wall_s", round(time.time() - start, 1))
        cost = summarize_fit_config(fit_args(command), self.input_size)
        trial.set_user_attr("params", cost["params"])
        trial.set_user_attr("gmacs", round(gmacs(cost["macs"]), 4))
        return value

    def _run(self, trial: optuna.Trial, command: list[str], run_dir: Path, start: float) -> float:
        log = run_dir / "run.log"
        values: list[float] = []
        returncode = None
        try:
            with (
                log.open("w") as out,
                subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=self.env) as proc,
            ):
                while returncode is None:
                    returncode = _wait(proc)
                    new = metric_values(run_dir, self.sweep.metric, start)[len(values) :]
                    for value in new:
                        values.append(value)
                        trial.report(value, len(values))
                    if new and returncode is None and trial.should_prune():
                        proc.terminate()
                        proc.wait()
                        raise optuna.TrialPruned(f"{self.sweep.metric} after {len(values)} evaluations")
        except OSError as err:
            error = f"cannot start the run: {err}"
        else:
            if returncode == 0 and values:
                return best(values, self.sweep.goal)
            error = failure(log, returncode) if returncode else f"no {self.sweep.metric} in metrics.csv"
        trial.set_user_attr("error", error)
        raise RunFailed(error)


def _wait(proc: subprocess.Popen) -> int | None:
    """The exit code, or None if the run is still going after POLL_S."""
    try:
        return proc.wait(timeout=POLL_S)
    except subprocess.TimeoutExpired:
        return None


def requeue_interrupted(study: optuna.Study) -> None:
    """Run again, once, what the sweep itself cut short: trials that failed without a run error (Ctrl-C)
    and RUNNING trials whose heartbeat stopped (a killed sweep), both through Optuna's retry of stale
    trials. A run that failed on its own stays failed."""
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    retried = {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t)}
    retry = RetryHeartbeatStaleTrialCallback()
    for t in trials:
        if t.state == TrialState.FAIL and "error" not in t.user_attrs and t.number not in retried:
            retry(study, t)


def runs_left(study: optuna.Study, sweep: Sweep, count: int | None) -> int:
    """Runs to start now: what the grid or run_cap leaves (finished, failed and running runs count,
    interrupted ones do not), at most `count`."""
    done = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        or (t.state == TrialState.FAIL and "error" in t.user_attrs)
    ]
    total = sweep.total()
    left = count if total is None else max(total - len(done), 0)
    return left if count is None else min(left, count)


def status(trial: FrozenTrial) -> str:
    if trial.state == TrialState.FAIL:
        return "failed" if "error" in trial.user_attrs else "interrupted"
    return {TrialState.COMPLETE: "ok", TrialState.PRUNED: "pruned"}.get(trial.state, "running")


def results(study: optuna.Study, sweep: Sweep) -> list[dict[str, Any]]:
    """One row per run, best first; a pruned or failed run shows the best value it reached."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.WAITING:
            continue
        values = t.user_attrs.get("values", t.params)
        rows.append(
            {
                "run": t.number,
                "status": status(t),
                **{p.key: values.get(p.key) for p in sweep.parameters},
                "params": t.user_attrs.get("params"),
                "gmacs": t.user_attrs.get("gmacs"),
                sweep.metric: t.value
                if t.state == TrialState.COMPLETE
                else best(list(t.intermediate_values.values()), sweep.goal),
                "wall_s": t.user_attrs.get("wall_s"),
                "error": t.user_attrs.get("error"),
            }
        )
    sign = -1 if sweep.goal == "maximize" else 1
    return sorted(rows, key=lambda r: (r[sweep.metric] is None, sign * (r[sweep.metric] or 0), r["run"]))


def markdown(rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|")

    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]) + "\n"


def write_results(rows: list[dict[str, Any]], output: Path) -> str:
    """results.csv and results.md in the sweep folder; returns the markdown table."""
    if not rows:
        return "no runs yet\n"
    with (output / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = markdown(rows)
    (output / "results.md").write_text(table)
    return table


def dry_run(sweep: Sweep, extra: list[str], count: int | None) -> None:
    """Print the commands the sweep would start, drawn by its sampler in a throwaway in-memory study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sweep.sampler(), direction=sweep.goal)
    for _ in range(min(n for n in (count, sweep.total()) if n is not None)):
        trial = study.ask()
        print(shlex.join(sweep.run_command({p.key: p.suggest(trial) for p in sweep.parameters}) + extra))


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="hrnet-lit sweep", description=__doc__)
    p.add_argument("file", type=str, help="W&B sweep file, e.g. configs/sweeps/fuse_method.yaml")
    p.add_argument(
        "--count", type=int | None, default=None, help="start at most this many runs (default: all left)"
    )
    p.add_argument("--dry_run", type=bool, default=False, help="print the run commands, run nothing")
    p.add_argument(
        "--extra",
        type=list[str],
        default=[],
        help="flags appended to every run, e.g. [--trainer.max_steps=2]",
    )
    p.add_argument(
        "--output", type=str | None, default=None, help="sweep folder (default outputs/sweeps/<stem>)"
    )
    p.add_argument(
        "--storage",
        type=str | None,
        default=None,
        help="Optuna database URL shared by the machines of one sweep (default: SQLite in the sweep folder)",
    )
    p.add_argument(
        "--input_size",
        type=tuple[int, int] | None,
        default=None,
        help="H, W for gmacs (default: training crop)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(sys.argv[2:] if argv is None else argv)
    path = Path(args.file)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # Parsing the runs in-process would warn about sys.argv and log "Seed set" once per run.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    try:
        sweep = load_sweep(path)
        if sweep.total() is None and args.count is None:
            raise SweepError(f"a {sweep.method} sweep without run_cap needs --count")
        add_csv = check_flags(sweep, args.extra)
    except SweepError as err:
        raise SystemExit(f"hrnet-lit sweep: {path}: {err}") from None
    if args.dry_run:
        dry_run(sweep, args.extra, args.count)
        return
    output = Path(args.output or Path("outputs", "sweeps", path.stem))
    output.mkdir(parents=True, exist_ok=True)
    storage = RDBStorage(
        args.storage or f"sqlite:///{(output / 'optuna.db').resolve()}",
        heartbeat_interval=HEARTBEAT_S,
        grace_period=GRACE_S,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(),
    )
    study = optuna.create_study(
        storage=storage,
        study_name=sweep.name,
        sampler=sweep.sampler(),
        pruner=sweep.pruner,
        direction=sweep.goal,
        load_if_exists=True,
    )
    requeue_interrupted(study)
    objective = Objective(sweep, output, args.extra, add_csv, args.input_size)
    try:
        if n := runs_left(study, sweep, args.count):
            study.optimize(objective, n_trials=n, catch=(RunFailed,))
    finally:
        print(write_results(results(study, sweep), output), end="")
