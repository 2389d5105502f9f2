"""One road to each network: `summary` (on flags and on a fit config) counts exactly the network
that `fit` trains, for every task and every head it accepts; a head the task does not accept is
refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hrnet_lit.cli import main
from hrnet_lit.cli.app import lightning_cli
from hrnet_lit.models import count_params
from hrnet_lit.registry import TASKS
from hrnet_lit.tools.network_args import network_module, task_heads

TINY = {"preset": "w18_small_v1", "width": 8}
CASES = [(task, head) for task in TASKS for head in task_heads(task)]


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    main(["summary", *args, "--input_size=[64,64]", "--json=true"])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize(("task", "head"), CASES)
def test_summary_counts_the_network_that_fit_trains(
    task: str, head: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "fit.yaml"
    model = {"class_path": TASKS[task], "init_args": {"backbone": TINY, "head": head}}
    config.write_text(yaml.safe_dump({"model": model, "trainer": {"logger": False}}))
    on_cpu = ["--trainer.accelerator=cpu", "--trainer.devices=1", f"--trainer.default_root_dir={tmp_path}"]
    trained = count_params(lightning_cli(["--config", str(config), *on_cpu], run=False).model.net)

    from_config = summary(capsys, "--config", str(config))
    output = network_module(task).OUTPUT_ARG
    flags = [f"--task={task}", f"--head={head}", f"--num_classes={from_config[output]}"]
    from_flags = summary(capsys, *flags, *(f"--{k}={v}" for k, v in TINY.items()))
    assert from_config["params"] == trained
    assert from_flags["params"] == trained
    assert from_flags["macs"] == from_config["macs"]


def test_quickstart_v2p_is_counted_as_fit_trains_it(capsys: pytest.CaptureFixture[str]) -> None:
    flags = summary(capsys, "--task=segmentation", "--preset=w18_small_v1", "--head=v2p", "--num_classes=5")
    config = summary(capsys, "--config", "configs/quickstart.yaml", "--model.head=v2p")
    argv = ["--config", "configs/quickstart.yaml", "--model.head=v2p", "--trainer.logger=false"]
    trained = count_params(lightning_cli(argv, run=False).model.net)
    assert flags["params"] == config["params"] == trained


@pytest.mark.parametrize("command", ["summary", "export", "bench"])
def test_a_head_the_task_does_not_accept_is_refused_naming_the_allowed_ones(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--task=pose", "--head=v2p", "--preset=w18_small_v1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "v2p" in err and "'v1', 'v2'" in err


def test_a_task_outside_the_registry_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", "--task=depth"])
    assert exit_info.value.code == 2
    assert "task" in capsys.readouterr().err
