"""`hrnet-lit sweep`: the sweep files parse through the real CLI, and local sweeps run, resume and
record failures on Optuna."""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from hrnet_lit.cli.task_choice import import_class
from hrnet_lit.tools.fit_config import parse_fit_args
from hrnet_lit.tools.sweep.cli import main
from hrnet_lit.tools.sweep.runs import Objective, check_flags, fit_args, placement
from hrnet_lit.tools.sweep.spec import SweepError, load_sweep, make_pruner
from hrnet_lit.tools.sweep.study import requeue_interrupted, runs_left

SWEEPS = sorted(Path("configs/sweeps").glob("*.yaml"))
QUICKSTART = ["${env}", "hrnet-lit", "fit", "--config", "configs/quickstart.yaml", "${args}"]


def write_sweep(path: Path, parameters: dict[str, Any], **changes: Any) -> Path:
    spec = {"method": "grid", "metric": {"name": "val/mIoU", "goal": "maximize"}, "command": QUICKSTART}
    path.write_text(yaml.safe_dump({**spec, "parameters": parameters, **changes}))
    return path


def tiny_extra(tiny_fit: list[str], *without: str) -> list[str]:
    """TINY_FIT as `--extra+=` flags, less the keys a sweep sets itself."""
    return [f"--extra+={a}" for a in tiny_fit if not a.startswith(without)]


def read_results(output: Path) -> list[dict[str, str]]:
    with open(output / "results.csv") as f:
        return list(csv.DictReader(f))


def as_yaml(value: Any) -> Any:
    """A flag value as the CLI reads it back (agent strings are YAML; tuples compare as lists)."""
    value = yaml.safe_load(value) if isinstance(value, str) else value
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_sweep_files_parse_through_the_cli(path: Path) -> None:
    """Every grid combination (the exact argv an agent passes) parses and lands in the config; other
    methods pass the sweep's own check of both bounds of every range."""
    sweep = load_sweep(path)
    task = import_class(parse_fit_args(fit_args(sweep.run_command({}))).model.class_path)
    goal = "minimize" if task.monitor_mode == "min" else "maximize"  # a landmark NME: lower is better
    assert sweep.metric == task.monitor and sweep.goal == goal  # what the best checkpoint tracks
    if sweep.method != "grid":
        check_flags(sweep, [])  # raises SweepError naming a flag the CLI rejects
        return
    for values in sweep.grid:
        config = parse_fit_args(fit_args(sweep.run_command(values)))
        for key, value in values.items():
            expected = as_yaml(value)
            for sub, item in expected.items() if isinstance(expected, dict) else [("", expected)]:
                assert as_yaml(config[f"{config_key(key)}.{sub}".rstrip(".")]) == item, (key, sub)


def config_key(flag: str) -> str:
    """Where a `--model.*` / `--data.*` flag lands in the parsed config: the class's init_args."""
    group, _, rest = flag.partition(".")
    return f"{group}.init_args.{rest}" if group in ("model", "data") and rest != "class_path" else flag


def test_args_are_formatted_as_the_wandb_agent_does() -> None:
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    for path in SWEEPS:
        sweep, raw = load_sweep(path), yaml.safe_load(path.read_text())["parameters"]
        if sweep.method == "grid":
            for values, combo in zip(
                sweep.grid, itertools.product(*(p["values"] for p in raw.values())), strict=True
            ):
                agent = create_sweep_command_args(
                    {"args": {k: {"value": v} for k, v in zip(raw, combo, strict=True)}}
                )
                assert sweep.run_command(values)[-len(values) :] == agent["args"]


def test_wandb_sweeps_get_a_csv_logger_in_the_run_folder(tmp_path: Path) -> None:
    sweep = load_sweep(Path("configs/sweeps/head.yaml"))
    assert check_flags(sweep, [])  # the W&B logger of the sweep files needs a CSVLogger next to it
    command = sweep.run_command({"model.head": "v1"}) + placement(tmp_path, add_csv=True)
    wandb, csv_logger = parse_fit_args(fit_args(command)).trainer.logger
    assert wandb.class_path.endswith("WandbLogger") and csv_logger.class_path.endswith("CSVLogger")
    assert wandb.init_args.save_dir == csv_logger.init_args.save_dir == str(tmp_path)
    assert not check_flags(
        load_sweep(write_sweep(tmp_path / "q.yaml", {"model.head": {"values": ["v1"]}})), []
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "hyperopt"}, "unknown method 'hyperopt'"),
        ({"parameters": {"model.head": {"values": []}}}, "model.head has no values"),
        ({"parameters": {"model.head": {"distribution": "categorical"}}}, "model.head has no values"),
        ({"parameters": {"model.backbone.fuse_methd": {"values": ["sum"]}}}, "fuse_methd"),
        ({"parameters": {"model.head": {"values": ["v3"]}}}, "model.head"),
        ({"command": ["hrnet-lit", "fit", "${args}", "--config", "configs/quickstart.yaml"]}, "after every"),
        ({"early_terminate": {"type": "median"}}, "hyperband"),
    ],
)
def test_bad_sweep_files_are_refused_before_any_run(tmp_path: Path, change: dict, message: str) -> None:
    path = write_sweep(tmp_path / "bad.yaml", **{"parameters": {"model.head": {"values": ["v1"]}}, **change})
    output = tmp_path / "out"
    with pytest.raises(SweepError, match=message):
        main([str(path), f"--output={output}"])
    assert not output.exists()


def test_extra_flags_must_not_override_swept_ones(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", {"model.head": {"values": ["v1"]}}))
    with pytest.raises(SweepError, match="override swept"):
        check_flags(sweep, ["--model.head=v2"])


def test_hyperband_maps_to_optuna() -> None:
    pruner = make_pruner({"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3})
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert pruner._min_resource == 3 and pruner._max_resource == 27 and pruner._reduction_factor == 3


def test_interrupted_trials_are_requeued_once(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", {"model.head": {"values": ["v1", "v2", "v2p"]}}))
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'db.sqlite'}")
    study = optuna.create_study(storage=storage, sampler=sweep.sampler())
    dist = {"model.head": optuna.distributions.CategoricalDistribution(["v1", "v2", "v2p"])}
    for head, state, attrs in [
        ("v1", "COMPLETE", {}),
        ("v2", "FAIL", {"error": "ValueError: bad"}),  # the run failed on its own: stays failed
        ("v2p", "FAIL", {}),  # Ctrl-C: run again
    ]:
        study.add_trial(
            optuna.create_trial(
                state=optuna.trial.TrialState[state],
                value=0.5 if state == "COMPLETE" else None,
                params={"model.head": head},
                distributions=dist,
                user_attrs=attrs,
            )
        )
    requeue_interrupted(study, storage)
    requeue_interrupted(study, storage)
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.params for t in waiting] == [{"model.head": "v2p"}]
    assert runs_left(study, sweep, None) == 1 and runs_left(study, sweep, 0) == 0


def test_a_run_starts_its_own_wandb_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A W&B service address in the sweep's environment (an in-process run left it) is not handed to
    the runs, as `wandb agent` does not: a run sharing a service that ends first loses its offline run."""
    monkeypatch.setenv("WANDB_SERVICE", "2-1234-unix-/tmp/wandb-service.sock")
    monkeypatch.setenv("WANDB_PROJECT", "kept")
    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", {"model.head": {"values": ["v1"]}}))
    env = Objective(sweep, tmp_path, [], add_csv=False, input_size=None).env
    assert "WANDB_SERVICE" not in env and env["WANDB_PROJECT"] == "kept"


@pytest.mark.slow  # a run's subprocess
def test_a_run_is_pruned_between_validations(tmp_path: Path) -> None:
    """Metric values are reported as the run writes them, and a pruned run is stopped mid-run."""
    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", {"model.head": {"values": ["v1"]}}))
    script = (
        "import pathlib, time\n"
        "p = pathlib.Path('metrics.csv')\n"
        "p.write_text('epoch,val/mIoU\\n0,0.1\\n')\n"
        "time.sleep(120)\n"
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    trial = study.ask()
    objective = Objective(sweep, tmp_path, [], add_csv=False, input_size=None)
    start = time.time()
    with pytest.raises(optuna.TrialPruned), pytest.MonkeyPatch.context() as mp:
        mp.chdir(run_dir)
        objective._run(trial, [sys.executable, "-c", script], run_dir, start - 1)
    assert time.time() - start < 60
    assert study.trials[0].intermediate_values == {1: 0.1}


@pytest.mark.slow
def test_local_sweep_runs_resumes_and_records_failures(
    tmp_path: Path, tiny_fit: list[str], capsys: pytest.CaptureFixture
) -> None:
    """Three tiny runs: two train and get a real metric, width=0 fails at instantiation and is recorded
    with its error while the sweep goes on; resuming the finished sweep runs nothing."""
    path = write_sweep(tmp_path / "widths.yaml", {"model.backbone.width": {"values": [8, 0, 4]}})
    output = tmp_path / "widths"
    argv = [str(path), f"--output={output}", *tiny_extra(tiny_fit, "--model.backbone.width")]
    main([*argv, "--extra+=--trainer.num_sanity_val_steps=0"])
    rows = read_results(output)
    assert [r["model.backbone.width"] for r in rows][-1] == "0"  # failed runs sort last
    for row in rows[:2]:
        assert row["status"] == "ok" and not row["error"]
        assert 0.0 <= float(row["val/mIoU"]) <= 1.0
        assert int(row["params"]) > 0 and float(row["gmacs"]) > 0 and float(row["wall_s"]) > 0
    assert rows[2]["status"] == "failed" and "width=0" in rows[2]["error"] and not rows[2]["val/mIoU"]
    assert "| run | status | model.backbone.width |" in (output / "results.md").read_text()
    capsys.readouterr()

    main([*argv, "--extra+=--trainer.num_sanity_val_steps=0"])  # resumed: nothing left, not even the failure
    assert read_results(output) == rows
    assert sorted(p.name for p in (output / "runs").iterdir()) == ["0", "1", "2"]
    assert "run 3:" not in capsys.readouterr().out


def test_shipped_sweeps_run_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The files name `configs/...` as `wandb agent` in the repository reads them; started from another
    folder, the runs still get the repository's config files."""
    sweeps = [path.resolve() for path in SWEEPS]
    monkeypatch.chdir(tmp_path)
    for path in sweeps:
        main([str(path), "--dry_run=true", "--count=2"])
    commands = [shlex.split(line) for line in capsys.readouterr().out.splitlines()]
    configs = {Path(c[i + 1]) for c in commands for i, token in enumerate(c) if token == "--config"}
    assert len(commands) == 2 * len(sweeps)
    repository = sweeps[0].parents[2]
    assert repository / "configs" / "quickstart.yaml" in configs
    assert all(config.is_relative_to(repository / "configs") for config in configs)
    assert all(config.is_file() for config in configs)


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_a_killed_sweep_resumes_with_its_finished_runs_intact(tmp_path: Path, tiny_fit: list[str]) -> None:
    """SIGKILL of a real `hrnet-lit sweep` in the middle of its second run: the run stops with it (and
    saves its state), and the sweep started again keeps the first run as it was and runs the second
    one again; every grid point has one `ok` row."""
    path = write_sweep(tmp_path / "widths.yaml", {"model.backbone.width": {"values": [8, 4]}})
    output = tmp_path / "widths"
    argv = [
        str(path),
        f"--output={output}",
        *tiny_extra(tiny_fit, "--model.backbone.width"),
        "--extra+=--trainer.num_sanity_val_steps=0",
        "--extra+=--last_checkpoint.every_n_train_steps=1",
    ]
    entry = Path(sys.executable).with_name("hrnet-lit")
    sweep = subprocess.Popen([str(entry), "sweep", *argv], stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((output / "runs" / "1").rglob("last.ckpt")):  # the second run is training
            assert sweep.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        (run,) = children(sweep.pid)
        sweep.kill()
        sweep.wait()
        while not gone(run):  # the run got SIGTERM when the sweep died
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the sweep's process group
            os.killpg(sweep.pid, signal.SIGKILL)

    storage = f"sqlite:///{output / 'optuna.db'}"
    (name,) = optuna.get_all_study_names(storage)
    first, second = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert first.state == optuna.trial.TrialState.COMPLETE and second.state == optuna.trial.TrialState.RUNNING
    first_log = (output / "runs" / "0" / "run.log").stat().st_mtime_ns

    main(argv)  # started again, at once (no waiting for the heartbeat's grace period)
    rows = {r["run"]: r for r in read_results(output)}
    assert sorted(rows) == ["0", "2"]  # run 1 was interrupted; its retry is run 2
    assert {r["model.backbone.width"]: r["status"] for r in rows.values()} == {"8": "ok", "4": "ok"}
    assert (float(rows["0"]["val/mIoU"]), float(rows["0"]["wall_s"])) == (
        first.value,
        first.user_attrs["wall_s"],
    )
    assert (output / "runs" / "0" / "run.log").stat().st_mtime_ns == first_log  # not run again
    assert [p.name for p in (output / "runs" / "0").glob("*/version_*")] == ["version_0"]
