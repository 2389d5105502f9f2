"""One CLI for every task: the config's `model.class_path` picks it, backbone flags keep their spelling,
each task keeps its own defaults, and what the data knows fills the task's arguments."""

import inspect
import json
from pathlib import Path
from typing import ClassVar

import pytest
from lightning.pytorch import LightningDataModule

from hrnet_lit.cli import main
from hrnet_lit.cli.task_choice import import_class, task_command_line
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.registry import TASKS as TASK_PATHS
from hrnet_lit.tools.fit_config import parse_fit_args

ROOT = Path(__file__).parents[1]
TASK_CONFIGS = sorted(ROOT.glob("configs/*/quickstart.yaml"))
TASKS = [import_class(path) for path in TASK_PATHS.values()]


def class_path(task: type[HRNetTask]) -> str:
    """The registry's class path of `task` (`hrnet_lit.pose.PoseTask`)."""
    return next(path for path in TASK_PATHS.values() if import_class(path) is task)


def test_a_config_without_a_task_is_segmentation() -> None:
    config = parse_fit_args(["--config", str(ROOT / "configs" / "quickstart.yaml")])
    assert config.model.class_path == "hrnet_lit.segmentation.SegmentationTask"
    assert config.data.class_path == "hrnet_lit.segmentation.data.SyntheticDataModule"


@pytest.mark.parametrize("config", TASK_CONFIGS, ids=lambda c: c.parent.name)
def test_backbone_flags_keep_their_spelling(config: Path) -> None:
    """`--model.backbone.width=48` without `init_args`, for every task's config."""
    parsed = parse_fit_args(
        ["--config", str(config), "--model.backbone.width=48", "--model.backbone.fuse_method=concat"]
    )
    task = import_class(parsed.model.class_path)
    assert issubclass(task, HRNetTask) and task.__name__.lower().startswith(config.parent.name[:4])
    backbone = parsed.model.init_args.backbone
    assert backbone.width == 48 and backbone.fuse_method == "concat"


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.__name__)
def test_each_task_keeps_its_own_defaults(task: type[HRNetTask]) -> None:
    """No argument of another task's defaults is carried over (jsonargparse keeps a previous class's
    init args on a class_path change): every argument not set is the task's own default."""
    parsed = parse_fit_args([f"--model={class_path(task)}"]).model.init_args
    own = {
        name: p.default
        for cls in reversed(task.__mro__)
        if cls.__module__.startswith("hrnet_lit")
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in task.data_args
    }
    for name, default in own.items():
        value = parsed[name]
        if hasattr(value, "as_dict"):
            value = type(default)(**value.as_dict())  # a BackboneConfig / dataclass group
        assert value == default or (isinstance(default, tuple) and list(default) == value), name


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.__name__)
def test_each_task_names_its_default_data(task: type[HRNetTask]) -> None:
    """A config naming no data trains on the task's default data, which gives what the task takes."""
    path = class_path(task)
    chosen, args = task_command_line(["fit", f"--model={path}"], subcommand=True)
    assert chosen is task and args[:3] == ["fit", f"--model={path}", f"--data={task.default_data}"]
    data = import_class(task.default_data)
    assert data.kind == task.kind and set(task.data_args) <= set(data().task_args)


def test_a_class_that_is_no_task_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--model=torch.nn.Linear"])
    assert exit_info.value.code == 2
    assert "model.class_path 'torch.nn.Linear' is not an hrnet-lit task" in capsys.readouterr().err


def test_data_of_another_task_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for task in TASKS:
        for data in {t.default_data for t in TASKS} - {task.default_data}:
            with pytest.raises(SystemExit):
                main(["fit", f"--model={class_path(task)}", f"--data={data}"])
            err = capsys.readouterr().err
            assert f"data.class_path {data!r} is" in err and f"a {task.kind} task" in err, err


class UnnamedData(LightningDataModule):
    """A researcher's own data module that names no `kind` and gives too little."""

    task_args: ClassVar[dict[str, int]] = {"num_classes": 3}


def test_data_without_what_the_task_takes_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["fit", f"--data={__name__}.UnnamedData", f"--trainer.default_root_dir={tmp_path}"])
    assert "UnnamedData gives no 'class_names' to the task" in capsys.readouterr().err


FIT_CONFIGS = [c for c in sorted(ROOT.glob("configs/**/*.yaml")) if c.parent.name not in ("sweeps", "logger")]


@pytest.mark.parametrize("config", FIT_CONFIGS, ids=lambda c: f"{c.parent.name}/{c.stem}")
def test_summary_of_every_fit_config(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hrnet-lit summary --config` builds every shipped recipe's network, whatever its task."""
    main(["summary", "--config", str(config), "--input_size=[64,64]", "--json=true"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["params"] > 0 and row["macs"] > 0 and row["input_size"] == [64, 64]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.__name__)
def test_a_task_is_named_by_its_class_alone(
    task: type[HRNetTask], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--model=PoseTask` picks the task; `--model.help PoseTask` lists its own arguments."""
    assert parse_fit_args([f"--model={task.__name__}"]).model.class_path == class_path(task)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--model.help", task.__name__])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--model.backbone.width" in out and "--model.head" in out
