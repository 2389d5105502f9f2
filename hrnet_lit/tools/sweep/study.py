"""The sweep's Optuna study: which runs are left, which to retry, and the results table."""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from hrnet_lit.common.atomic import atomic_path
from hrnet_lit.tools.sweep.runs import best
from hrnet_lit.tools.sweep.spec import Sweep


def _process_is_gone(trial: FrozenTrial) -> bool:
    """The sweep process that ran `trial` was on this machine and no longer exists."""
    host, pid = trial.user_attrs.get("host"), trial.user_attrs.get("pid")
    if host != socket.gethostname() or pid is None:
        return False
    if pid == os.getpid():  # a reused id: the old process is gone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def requeue_interrupted(study: optuna.Study, storage: BaseStorage) -> None:
    """Run again, once, what the sweep itself cut short: trials that failed without a run error (Ctrl-C)
    and RUNNING trials of a killed sweep, both through Optuna's retry of stale trials. A RUNNING trial
    whose sweep process on this machine is gone is retried at once; one of another machine once its
    heartbeat has stopped for the grace period. A run that failed on its own stays failed."""
    study_id = storage.get_study_id_from_name(study.study_name)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _process_is_gone(t):  # not `study.tell`: a grid sampler would stop the study from there
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
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
    """One row per run, best first; a pruned or failed run shows the best value it reached. An
    interrupted run that was queued again is left out: its retry has the row."""
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t)}
    rows = []
    for t in trials:
        if t.state == TrialState.WAITING or t.number in retried:
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
    """results.csv and results.md in the sweep folder, each whole or not at all (the sweep rewrites
    them as runs end); returns the markdown table."""
    if not rows:
        return "no runs yet\n"
    with atomic_path(output / "results.csv") as temporary, temporary.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = markdown(rows)
    with atomic_path(output / "results.md") as temporary:
        temporary.write_text(table)
    return table
