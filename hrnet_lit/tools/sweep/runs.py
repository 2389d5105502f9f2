"""One sweep run: the agent's command in its own process and folder, its metric read as it logs."""

from __future__ import annotations

import contextlib
import csv
import ctypes
import importlib
import inspect
import io
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
from lightning.pytorch.loggers import CSVLogger

from hrnet_lit.cli.refusals import check_run_flags, logs_metric, unlogged_metric
from hrnet_lit.cli.task_choice import import_class
from hrnet_lit.common.optim_knobs import check_optimizer_knobs
from hrnet_lit.errors import InputError
from hrnet_lit.models import gmacs
from hrnet_lit.tools.fit_config import parse_fit_args
from hrnet_lit.tools.network_args import uses_fit_config
from hrnet_lit.tools.summary import summarize_fit_config
from hrnet_lit.tools.sweep.spec import Sweep, SweepError

# `hrnet-lit fit: error: ...` (a bad input), jsonargparse's `error: ...`, or a traceback's last line.
FAILURE_LINE = re.compile(
    r"^((hrnet-lit \w+: )?error: .*|[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*)$"
)
POLL_S = 2.0  # how often a running run's metrics.csv is read for new epochs
PR_SET_PDEATHSIG = 1  # prctl option: the signal a child gets when its parent dies (Linux)


class RunFailed(Exception):
    """A run exited non-zero or logged no metric: recorded as failed, and the sweep goes on."""


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


def check_run(sweep: Sweep, config: Any, args: str) -> None:
    """What parsing lets through and a run would find only later (after training, for the metric):
    the task must log the sweep's metric, and the optimizer and Trainer knobs must be usable."""
    task = import_class(config.model.class_path)
    if not logs_metric(task, sweep.metric):
        raise SweepError(str(unlogged_metric(task, sweep.metric, "metric")))
    knobs = inspect.signature(check_optimizer_knobs).parameters
    try:
        check_optimizer_knobs(**{k: config.model.init_args[k] for k in knobs if k in config.model.init_args})
        check_run_flags(config, "fit", task)
    except InputError as error:
        raise SweepError(f"the run `hrnet-lit fit {args}` would stop: {error}") from None


def check_flags(sweep: Sweep, extra: list[str]) -> bool:
    """Parse runs through the real CLI parser before any starts: every grid combination, or each value
    of each parameter (bounds of ranges) with the others at their first.

    Returns whether the runs need a CSVLogger next to their own logger (see `placement`).
    """
    if uses_fit_config(extra):
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
    for values, config in zip(runs, configs, strict=True):
        check_run(sweep, config, shlex.join(fit_args(sweep.run_command(values)) + extra))
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


def owner() -> dict[str, Any]:
    """Who runs a trial: this machine and sweep process (stored with the trial)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _die_with_the_sweep() -> None:
    """Linux: the run gets SIGTERM (saves `last.ckpt` and stops) when the sweep process dies, even by
    SIGKILL, instead of training on unwatched."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
        self.env.pop("WANDB_SERVICE", None)  # as `wandb agent` does: each run starts its own W&B service

    def __call__(self, trial: optuna.Trial) -> float:
        values = {p.key: p.suggest(trial) for p in self.sweep.parameters}
        run_dir = self.output / "runs" / str(trial.number)
        run_dir.mkdir(parents=True, exist_ok=True)
        command = self.sweep.run_command(values) + self.extra
        trial.set_user_attr("values", values)
        trial.set_user_attr("command", command)
        for key, value in owner().items():  # lets a restarted sweep see that this one is gone
            trial.set_user_attr(key, value)
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
                subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    preexec_fn=_die_with_the_sweep if sys.platform == "linux" else None,
                ) as proc,
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
