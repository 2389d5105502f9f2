"""What a run writes and where, as the README and docs/cli.md say: the README's `fit --model.head=v1`
then `validate --config ... --ckpt_path` sequence, one flag that moves everything a run writes,
evaluations that leave the training runs' numbering alone, no run replacing another run's files, the
documented `null` of a backbone knob, and the warning of an evaluation without a checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from helpers import CLASSIFICATION_FIT, DETECTION_FIT, INSTANCE_FIT, LANDMARKS_FIT, POSE_FIT, metric_rows
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.cli.task_choice import import_class
from hrnet_lit.common.atomic import atomic_path
from hrnet_lit.tools.fit_config import parse_fit_args

QUICKSTART = "configs/quickstart.yaml"
# The quickstart at a tiny size, with no architecture flag: the config file alone names the network.
TINY = [
    "--trainer.max_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--data.num_train=4",
    "--data.num_val=2",
    "--data.image_size=[32,32]",
    "--data.crop_size=[32,32]",
    "--data.batch_size=2",
]


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err
    return err


def files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_readme_head_v1_fit_then_validate_with_the_config_and_a_contradicting_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README sequence works (the config's `head: v2` gives way to the checkpoint's v1), an explicit
    flag that contradicts the checkpoint is refused by name, and the evaluation logs beside the
    training runs, not as their next version."""
    monkeypatch.chdir(tmp_path)
    config = str(Path(__file__).resolve().parents[1] / QUICKSTART)
    main(["fit", "--config", config, *TINY, "--model.backbone.width=8", "--model.head=v1"])
    ckpt = tmp_path / "outputs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    main(["validate", "--config", config, *TINY, "--model.backbone.width=8", f"--ckpt_path={ckpt}"])
    (validated,) = (tmp_path / "outputs" / "quickstart" / "validate").iterdir()
    assert validated.name == "version_0" and [r for r in metric_rows(validated) if r.get("val/mIoU")]
    main(["validate", "--config", config, *TINY, f"--ckpt_path={ckpt}"])  # the width too from the ckpt
    err = refused(capsys, ["validate", "--config", config, *TINY, f"--ckpt_path={ckpt}", "--model.head=v2"])
    assert "the flag --model.head=v2 contradicts the checkpoint's v1" in err and str(ckpt) in err
    err = refused(
        capsys,
        ["test", "--config", config, *TINY, f"--ckpt_path={ckpt}", "--model.init_args.backbone.width=16"],
    )
    assert "the flag --model.backbone.width=16 contradicts the checkpoint's 8" in err
    main(["fit", "--config", config, *TINY, "--model.backbone.width=8"])
    runs = sorted(p.name for p in (tmp_path / "outputs" / "quickstart").iterdir())
    assert runs == ["validate", "version_0", "version_1"]  # evaluations did not take version_1


@pytest.mark.slow
def test_no_run_overwrites_another_runs_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run = [*TINY, "--model.backbone.width=8", f"--trainer.default_root_dir={out}"]
    main(["fit", "--config", QUICKSTART, *run])
    first = out / "quickstart" / "version_0"
    before = files(first)
    checkpoints = first / "checkpoints"
    assert (checkpoints / "last.ckpt") in before
    attempts = [
        [f"--checkpoint.dirpath={checkpoints}"],
        [f"--last_checkpoint.dirpath={checkpoints}"],
        ["--trainer.logger.init_args.version=0"],
        ["--trainer.logger.init_args.version=version_0"],
    ]
    for flags in attempts:
        err = refused(capsys, ["fit", "--config", QUICKSTART, *run, *flags])
        assert f"{checkpoints} holds the checkpoints of another run" in err, flags
    assert files(first) == before
    # resuming that run from its own folder may move its checkpoints on
    main(["fit", "--config", QUICKSTART, *run, f"--checkpoint.dirpath={checkpoints}",
          f"--ckpt_path={checkpoints / 'last.ckpt'}", "--trainer.max_steps=2"])  # fmt: skip
    # a plain second fit gets a folder of its own; a second predict into the same folder is refused
    main(["fit", "--config", QUICKSTART, *run])
    assert (out / "quickstart" / "version_1" / "checkpoints" / "last.ckpt").is_file()
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (32, 32), (90, 20, 200)).save(images / "a.png")
    ckpt = out / "quickstart" / "version_1" / "checkpoints" / "last.ckpt"
    predict = ["predict", "--config", QUICKSTART, *run, f"--ckpt_path={ckpt}", f"--data.predict_dir={images}"]
    main([*predict, f"--predict_writer.output_dir={tmp_path / 'masks'}"])
    written = files(tmp_path / "masks")
    assert written
    err = refused(capsys, [*predict, f"--predict_writer.output_dir={tmp_path / 'masks'}"])
    assert f"predict_writer.output_dir={tmp_path / 'masks'} already holds files" in err
    assert files(tmp_path / "masks") == written


@pytest.mark.slow
def test_default_root_dir_moves_everything_a_run_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    config = str(Path(__file__).resolve().parents[1] / QUICKSTART)
    main(
        ["fit", "--config", config, *TINY, "--model.backbone.width=8", "--trainer.default_root_dir=elsewhere"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"]
    run = tmp_path / "elsewhere" / "quickstart" / "version_0"
    assert {"config.yaml", "hparams.yaml"} <= {p.name for p in run.iterdir()}
    assert (run / "checkpoints" / "last.ckpt").is_file()
    main(
        [
            "validate",
            "--config",
            config,
            *TINY,
            "--model.backbone.width=8",
            "--trainer.default_root_dir=elsewhere",
        ]
    )
    assert "no --ckpt_path, so this validate uses randomly initialised weights" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"]
    assert (tmp_path / "elsewhere" / "quickstart" / "validate" / "version_0" / "metrics.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "tiny"),
    [
        ("configs/pose/quickstart.yaml", POSE_FIT),
        ("configs/classification/quickstart.yaml", CLASSIFICATION_FIT),
        ("configs/detection/quickstart.yaml", DETECTION_FIT),
        ("configs/instance/quickstart.yaml", INSTANCE_FIT),
        ("configs/landmarks/quickstart.yaml", LANDMARKS_FIT),
    ],
    ids=["pose", "classification", "detection", "instance", "landmarks"],
)
def test_a_task_declares_every_metric_its_fit_logs(config: str, tiny: list[str], tmp_path: Path) -> None:
    """`metrics` is what `--checkpoint.monitor` and a sweep's `metric` are checked against."""
    main(["fit", "--config", config, *tiny, f"--trainer.default_root_dir={tmp_path}"])
    task = import_class(parse_fit_args(["--config", config]).model.class_path)
    columns = {k for row in metric_rows(tmp_path) for k, v in row.items() if v} - {"epoch", "step"}
    assert task.monitor in columns
    assert all(any(fnmatchcase(c, p) for p in task.metrics) for c in columns), (columns, task.metrics)


def test_a_backbone_knob_takes_null_on_the_command_line() -> None:
    args = ["--config", QUICKSTART, "--model.backbone.width=16"]
    for null in ("--model.backbone.width=null", "--model.init_args.backbone.width=null"):
        backbone = parse_fit_args([*args, null]).model.init_args.backbone
        assert backbone.width is None and backbone.preset == "w18_small_v1"  # the others are kept
    pose = parse_fit_args(["--config", "configs/pose/quickstart.yaml", "--model.backbone.stem_width=null"])
    assert pose.model.init_args.backbone.upsample_mode == "nearest"


def test_coco_detection_summary_follows_input_size() -> None:
    from hrnet_lit.tools.summary import summarize_fit_config

    row = summarize_fit_config(
        ["--config", "configs/detection/coco_w18_1x.yaml", "--data.input_size=[512,512]"], None
    )
    assert row["input_size"] == [512, 512]


def test_tool_help_names_the_config_mode() -> None:
    from hrnet_lit.tools import export, summary
    from hrnet_lit.tools.bench import command as bench

    for tool in (summary, export, bench):
        assert "--config FILE" in tool.parser().format_help()


def test_atomic_writes_get_the_usual_file_mode(tmp_path: Path) -> None:
    """A writer that creates its file 0600 (as `torch.onnx.export` did) leaves it like any other file."""
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "model.onnx") as temporary:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT, 0o600))
    finally:
        os.umask(umask)
    assert (tmp_path / "model.onnx").stat().st_mode & 0o777 == 0o644


def test_help_into_a_closed_pipe_is_quiet() -> None:
    """`hrnet-lit --help | head -1`: the reader goes away, and no BrokenPipeError is printed."""
    code = "import sys; sys.argv = ['hrnet-lit', '--help']; from hrnet_lit.cli import main; main()"
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], stdout=write, capture_output=False, stderr=subprocess.PIPE
        )
    finally:
        os.close(write)
    assert b"BrokenPipeError" not in done.stderr and b"Traceback" not in done.stderr, done.stderr
