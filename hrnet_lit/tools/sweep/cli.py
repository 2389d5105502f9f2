"""`hrnet-lit sweep`: run a W&B sweep file locally on Optuna, with no W&B server.

The file is the one `wandb sweep` takes. Each run is the command a W&B agent would run (the file's
`command`, `${args}` expanded as `--key=value`), in its own process and folder; its metrics.csv gives
the sweep metric. Trials live in an Optuna storage, so an interrupted sweep resumes where it stopped
and several machines can share one study.
"""

from __future__ import annotations

import logging
import shlex
import sys
import warnings
from pathlib import Path

import optuna
from jsonargparse import ArgumentParser
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from hrnet_lit.common.atomic import writable_folder
from hrnet_lit.tools.sweep.runs import Objective, RunFailed, check_flags
from hrnet_lit.tools.sweep.spec import Sweep, SweepError, load_sweep
from hrnet_lit.tools.sweep.study import requeue_interrupted, results, runs_left, write_results

HEARTBEAT_S, GRACE_S = 30, 90  # a RUNNING trial without a heartbeat for GRACE_S is retried


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
    # Parsing the runs in-process would log "Seed set" once per run.
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    try:
        sweep = load_sweep(path)
        if sweep.total() is None and args.count is None:
            raise SweepError(f"a {sweep.method} sweep without run_cap needs --count")
        add_csv = check_flags(sweep, args.extra)
    except SweepError as err:
        raise SweepError(f"{path}: {err}") from None
    if args.dry_run:
        dry_run(sweep, args.extra, args.count)
        return
    output = Path(args.output or Path("outputs", "sweeps", path.stem))
    writable_folder("--output", output)
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
    requeue_interrupted(study, storage)
    objective = Objective(sweep, output, args.extra, add_csv, args.input_size)
    try:
        if n := runs_left(study, sweep, args.count):
            study.optimize(objective, n_trials=n, catch=(RunFailed,))
    finally:
        print(write_results(results(study, sweep), output), end="")
