"""`--ckpt_path` next to a config and flags: evaluation settings follow the flags, the architecture
follows the checkpoint, a contradiction or a file that is not a safe fit checkpoint is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SEGMENTATION_FIT
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.cli.app import HRNetCLI, lightning_cli
from hrnet_lit.cli.checkpoint import contradictions
from hrnet_lit.common.checkpoint_file import read_checkpoint
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.models.config import BackboneConfig

EVAL = [a for a in SEGMENTATION_FIT if not a.startswith("--trainer.max_steps")]
TTA = ["--model.eval_scales=[0.5,0.75,1.0,1.25,1.5,1.75]", "--model.eval_flip=true"]  # docs/segmentation.md


class BuildOnly(HRNetCLI):
    """Parses, merges the checkpoint and builds model, data and Trainer, but runs nothing."""

    def _run_subcommand(self, subcommand: str) -> None:
        pass


def built(tmp: Path, *args: str) -> BuildOnly:
    out = [f"--trainer.default_root_dir={tmp}", f"--trainer.logger.init_args.save_dir={tmp}"]
    cli = lightning_cli([*args, *out], cls=BuildOnly)
    assert isinstance(cli, BuildOnly)
    return cli


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one-line error of `hrnet-lit <argv>`, which must exit with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny fit checkpoint: W18-small-v1 at width 8, 5 synthetic classes, eval_scales [1.0], no flip."""
    tmp = tmp_path_factory.mktemp("fit")
    main(["fit", *SEGMENTATION_FIT, "--trainer.max_steps=1", f"--trainer.logger.init_args.save_dir={tmp}"])
    (path,) = tmp.glob("lightning_logs/*/checkpoints/last.ckpt")
    return path


def edited(ckpt: Path, out: Path, **hparams: object) -> Path:
    """A copy of `ckpt` whose saved hyperparameters are updated with `hparams`."""
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["hyper_parameters"].update(hparams)
    torch.save(checkpoint, out)
    return out


# --- which wins -------------------------------------------------------------------------------


@pytest.mark.slow
def test_evaluation_and_data_flags_win_over_the_checkpoint(tmp_path: Path, ckpt: Path) -> None:
    cli = built(
        tmp_path,
        "validate",
        *EVAL,
        f"--ckpt_path={ckpt}",
        *TTA,
        "--model.eval_window=[[32,32],[16,16]]",
        "--model.channels_last=true",
        "--model.lr=0.5",
        "--data.batch_size=2",
    )
    model = cli.model
    assert model.eval_scales == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert model.eval_flip is True
    assert model.eval_window == ((32, 32), (16, 16))
    assert model.channels_last is True
    assert model.optim_args["lr"] == 0.5
    assert cli.datamodule.hparams.batch_size == 2
    assert cli.config.validate.weights_only is True, "Lightning's restore loads weights only too"


@pytest.mark.slow
def test_the_checkpoint_fills_what_config_and_flags_leave_unset(tmp_path: Path, ckpt: Path) -> None:
    flipped = edited(ckpt, tmp_path / "flip.ckpt", eval_flip=True, eval_scales=[0.75, 1.0])
    # configs/quickstart.yaml names the preset but no width: the checkpoint's width 8, not the preset's 16
    cli = built(tmp_path / "a", "validate", "--config", "configs/quickstart.yaml", f"--ckpt_path={flipped}")
    assert cli.model.hparams.backbone["width"] == 8
    assert (cli.model.eval_flip, cli.model.eval_scales) == (True, [0.75, 1.0])
    assert cli.model.optim_args["opt"] == "adamw", "the config's optimizer, not the checkpoint's sgd"
    # a flag equal to the built-in default still beats the checkpoint
    cli = built(tmp_path / "b", "validate", *EVAL, f"--ckpt_path={flipped}", "--model.eval_flip=false")
    assert cli.model.eval_flip is False


# --- what is refused --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_contradicting_architecture_flag_is_refused_with_key_and_both_values(
    tmp_path: Path, ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, ["validate", *EVAL, f"--ckpt_path={ckpt}", "--model.backbone.width=16"])
    assert "the flag --model.backbone.width=16 contradicts the checkpoint's 8" in err
    assert str(ckpt) in err and "Traceback" not in err
    err = refused(
        capsys, ["test", *EVAL, f"--ckpt_path={ckpt}", "--model.head=v1", "--model.backbone.preset=w32"]
    )
    assert "the flag --model.head=v1 contradicts the checkpoint's v2" in err
    assert "the flag --model.backbone.preset=w32 contradicts the checkpoint's w18_small_v1" in err


@pytest.mark.slow
def test_a_data_module_with_other_classes_is_refused(
    tmp_path: Path, ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "classes.txt").write_text("soil\nroot\nstem\n")
    for split in ("train", "val"):
        for kind, array in (
            ("images", np.zeros((32, 32, 3), np.uint8)),
            ("masks", np.zeros((32, 32), np.uint8)),
        ):
            (root / kind / split).mkdir(parents=True)
            Image.fromarray(array).save(root / kind / split / "a.png")
    folder = [
        "--data=hrnet_lit.segmentation.data.FolderDataModule",
        f"--data.root={root}",
        "--data.num_workers=0",
    ]
    net = [a for a in EVAL if not a.startswith("--data.")]
    err = refused(
        capsys, ["validate", *net, *folder, f"--ckpt_path={ckpt}", f"--trainer.default_root_dir={tmp_path}"]
    )
    assert "model.num_classes: the checkpoint has 5, the data module (FolderDataModule) gives 3" in err


@pytest.mark.slow
def test_a_checkpoint_of_another_task_is_refused(
    tmp_path: Path, ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pose = edited(ckpt, tmp_path / "pose.ckpt", _class_path="hrnet_lit.pose.PoseTask")
    err = refused(capsys, ["validate", *EVAL, f"--ckpt_path={pose}"])
    assert "is a checkpoint of hrnet_lit.pose.PoseTask, not of SegmentationTask" in err
    other = edited(ckpt, tmp_path / "other.ckpt", num_joints=17)
    err = refused(capsys, ["validate", *EVAL, f"--ckpt_path={other}"])
    assert "num_joints are not arguments of SegmentationTask" in err and str(other) in err


def test_architecture_contradictions_compare_the_network_not_the_spelling() -> None:
    saved = {"backbone": {**vars(BackboneConfig(preset="w18_small_v1", width=8))}, "head": "v2"}

    def given(**knobs: object) -> dict[str, object]:
        return {"backbone": {**saved["backbone"], **knobs}, "head": "v2"}

    arch = ("backbone", "head", "num_classes")
    assert contradictions(arch, saved, given(stage1_width=32)) == [], "the preset's own value, spelled out"
    assert contradictions(arch, saved, given(block=["bottleneck", "basic", "basic", "basic"])) == []
    assert contradictions(arch, saved, given(norm="sync_batch", grad_checkpointing=True)) == []
    assert contradictions(arch, saved, given(width=16)) == [("backbone.width", 8, 16)]
    assert contradictions(arch, saved, given(norm="group")) == [("backbone.norm", "batch", "group")]


# --- the file itself --------------------------------------------------------------------------


def test_files_that_are_not_fit_checkpoints_are_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="--ckpt_path '.*nope.ckpt' does not exist"):
        read_checkpoint(tmp_path / "nope.ckpt")
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(InputError, match="--ckpt_path '.*notes.ckpt' is not a PyTorch checkpoint"):
        read_checkpoint(text)
    with pytest.raises(InputError, match="is not a file"):
        read_checkpoint(tmp_path)
    weights = tmp_path / "backbone.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, weights)
    with pytest.raises(
        InputError, match=r"'.*backbone.pth' is not a Lightning checkpoint .* --model.pretrained"
    ):
        read_checkpoint(weights)
    listed = tmp_path / "list.ckpt"
    torch.save([1, 2], listed)
    with pytest.raises(InputError, match="lacks state_dict, hyper_parameters"):
        read_checkpoint(listed)
    odd = tmp_path / "odd.ckpt"
    torch.save({"state_dict": [], "hyper_parameters": {}, "pytorch-lightning_version": "2.6.6"}, odd)
    with pytest.raises(InputError, match="'.*odd.ckpt' is not a Lightning checkpoint"):
        read_checkpoint(odd)


def test_a_task_built_in_python_saves_a_config_object_that_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "api.ckpt"
    hparams = {"backbone": BackboneConfig(preset="w18_small_v1", width=8), "head": "v2"}
    torch.save({"state_dict": {}, "hyper_parameters": hparams, "pytorch-lightning_version": "2.6.6"}, path)
    assert read_checkpoint(path)["hyper_parameters"]["backbone"].width == 8


class _Payload:
    """Unpickling it writes a marker file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


@pytest.mark.slow
def test_a_checkpoint_that_would_run_code_is_refused_and_the_code_never_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.ckpt"
    payload = {
        "state_dict": {},
        "hyper_parameters": {"x": _Payload(marker)},
        "pytorch-lightning_version": "2",
    }
    torch.save(payload, evil)
    torch.load(evil, weights_only=False)  # the payload is real: an unsafe load runs it
    assert marker.read_text() == "ran"
    marker.unlink()

    with pytest.raises(InputError, match="was refused: unpickling it needs exec"):
        read_checkpoint(evil)
    for argv in (
        ["validate", *EVAL, f"--ckpt_path={evil}", f"--trainer.default_root_dir={tmp_path}"],
        ["export", f"--ckpt_path={evil}", f"--output={tmp_path / 'x.onnx'}"],
    ):
        err = refused(capsys, argv)
        assert f"--ckpt_path {str(evil)!r} was refused: unpickling it needs exec" in err
    assert not marker.exists()
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.slow
def test_the_entry_point_names_a_missing_or_text_ckpt_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone.ckpt"
    assert f"--ckpt_path {str(missing)!r} does not exist" in refused(
        capsys, ["validate", *EVAL, f"--ckpt_path={missing}"]
    )
    text = tmp_path / "notes.ckpt"
    text.write_text("hello\n")
    err = refused(capsys, ["fit", *SEGMENTATION_FIT, f"--ckpt_path={text}"])
    assert f"--ckpt_path {str(text)!r} is not a PyTorch checkpoint" in err
    assert "--weights_only=false" in refused(capsys, ["validate", *EVAL, "--weights_only=false"])
