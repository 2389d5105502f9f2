"""Bad input, one table: every row is a config, data, weights or sweep mistake a user can make, run
through the real entry point (`hrnet-lit ...` in-process) or the public API. Each must stop with
exit status 2 (or an `InputError`) and a message that names the key, file or value, with no
traceback, and a run that fails before its first step must leave no run folder behind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from bad_input import Case, refusal
from helpers import TINY_SEGMENTATION
from networks import network
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.common.atomic import save_atomically
from hrnet_lit.models import HRNet, load_pretrained
from hrnet_lit.segmentation import SegmentationTask
from hrnet_lit.segmentation.data import FolderDataModule, FolderSegmentation

# The tiny network of tests/conftest.py, and trainer flags that stop right after one step.
NET = ["--model.backbone.preset=w18_small_v1", "--model.backbone.width=8"]
TRAINER = [
    "--seed_everything=0",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.max_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]
SYNTHETIC = [
    "--data.num_train=4",
    "--data.num_val=2",
    "--data.image_size=[32,32]",
    "--data.crop_size=[32,32]",
    "--data.batch_size=2",
    "--data.num_workers=0",
]


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _image(size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def folder_data(root: Path, mask: np.ndarray | None = None) -> Path:
    """A valid FolderDataModule tree: 3 classes, two 32x32 train images and one val image."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("soil\nroot\nstem\n")
    labels = np.random.default_rng(1).integers(0, 3, (32, 32), dtype=np.uint8) if mask is None else mask
    for split, names in (("train", ("a", "b")), ("val", ("c",))):
        for k, name in enumerate(names):
            _save(root / "images" / split / f"{name}.png", _image(seed=k))
            _save(root / "masks" / split / f"{name}.png", labels)
    return root


def folder_fit(tmp: Path, root: Path, *extra: str) -> list[str]:
    data = [
        "--data=hrnet_lit.segmentation.data.FolderDataModule",
        f"--data.root={root}",
        "--data.crop_size=[32,32]",
    ]
    return ["fit", *TRAINER, *NET, *data, "--data.batch_size=2", "--data.num_workers=0", *out(tmp), *extra]


def out(tmp: Path) -> list[str]:
    return [f"--trainer.default_root_dir={tmp / 'out'}", f"--trainer.logger.init_args.save_dir={tmp / 'out'}"]


def synthetic(command: str, tmp: Path, *extra: str) -> list[str]:
    return [command, *TRAINER, *NET, *SYNTHETIC, *out(tmp), *extra]


def published(command: str, tmp: Path, data: str, root: Path) -> list[str]:
    """A published dataset's module: the synthetic set's own flags (`--data.num_train`) would be refused."""
    return [command, *TRAINER, *NET, *out(tmp), f"--data={data}", f"--data.root={root}"]


def truncated_png(path: Path) -> Path:
    _save(path, _image())
    path.write_bytes(path.read_bytes()[:400])
    return path


def sweep_file(path: Path, **changes: Any) -> Path:
    spec = {
        "method": "grid",
        "metric": {"name": "val/mIoU", "goal": "maximize"},
        "parameters": {"model.head": {"values": ["v1", "v2"]}},
        "command": ["${env}", "hrnet-lit", "fit", "${args}"],
    }
    path.write_text(yaml.safe_dump({**spec, **changes}))
    return path


def sweep(tmp: Path, path: Path) -> list[str]:
    return ["sweep", str(path), f"--output={tmp / 'out'}", "--dry_run=true"]


def tiny_task(**kwargs: Any) -> SegmentationTask:
    return SegmentationTask(TINY_SEGMENTATION, num_classes=3, **kwargs)


def _fit_ckpt_as_pretrained(tmp: Path) -> list[str]:
    """A width-8 `hrnet-lit fit` checkpoint as the pretrained backbone of a width-16 model."""
    main(synthetic("fit", tmp / "first"))
    (ckpt,) = (tmp / "first" / "out").rglob("last.ckpt")
    return synthetic("fit", tmp, "--model.backbone.width=16", f"--model.pretrained={ckpt}")


def _write_truncated_predict(tmp: Path) -> list[str]:
    truncated_png(tmp / "predict" / "broken.png")
    return synthetic("predict", tmp, f"--data.predict_dir={tmp / 'predict'}")


def _same_stem(tmp: Path) -> list[str]:
    _save(tmp / "predict" / "x.png", _image())
    _save(tmp / "predict" / "x.jpg", _image())
    return synthetic("predict", tmp, f"--data.predict_dir={tmp / 'predict'}")


def _torch_file(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def _text_file(path: Path, text: str = "not a checkpoint\n") -> Path:
    path.write_text(text)
    return path


def _folders(root: Path, *names: str) -> Path:
    """`root` with the (empty) sub-folders `names`."""
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


UNKNOWN_KEY_CONFIG = "model:\n  backbon: {width: 8}\n"

CASES = [
    # -- config: flags and config files --------------------------------------------------------------
    Case("eval_scales-empty", lambda t: synthetic("fit", t, "--model.eval_scales=[]"), r"model\.eval_scales"),
    Case(
        "eval_scales-zero",
        lambda t: synthetic("fit", t, "--model.eval_scales=[0.0,1.0]"),
        r"eval_scales.*0\.0",
    ),
    Case(
        "eval_window-stride-over-crop",
        lambda t: synthetic("validate", t, "--model.eval_window=[[16,16],[32,32]]"),
        r"model\.eval_window",
    ),
    Case(
        "eval_window-zero-crop",
        lambda t: synthetic("fit", t, "--model.eval_window=[[0,16],[8,8]]"),
        r"model\.eval_window",
    ),
    Case("batch_size-zero", lambda t: synthetic("fit", t, "--data.batch_size=0"), r"data\.batch_size.*0"),
    Case(
        "num_workers-negative", lambda t: synthetic("fit", t, "--data.num_workers=-1"), r"data\.num_workers"
    ),
    Case("crop_size-zero", lambda t: synthetic("fit", t, "--data.crop_size=[0,32]"), r"data\.crop_size"),
    Case(
        "scale_range-reversed",
        lambda t: synthetic("fit", t, "--data.scale_range=[2.0,0.5]"),
        r"data\.scale_range",
    ),
    Case("num_val-zero", lambda t: synthetic("fit", t, "--data.num_val=0"), r"data\.num_val.*0"),
    Case("image_size-tiny", lambda t: synthetic("fit", t, "--data.image_size=[4,32]"), r"data\.image_size"),
    Case("misspelt-knob", lambda t: synthetic("fit", t, "--model.backbone.widht=8"), r"widht"),
    Case(
        "wrong-type",
        lambda t: synthetic("fit", t, "--trainer.max_steps=two"),
        r"max_steps.*two|two.*max_steps",
    ),
    Case("unknown-preset", lambda t: synthetic("fit", t, "--model.backbone.preset=w99"), r"w99"),
    Case(
        "unknown-fuse-method",
        lambda t: synthetic("fit", t, "--model.backbone.fuse_method=mean"),
        r"fuse_method",
    ),
    Case("unknown-head", lambda t: synthetic("fit", t, "--model.head=v3"), r"head.*v3|v3.*head"),
    Case("negative-width", lambda t: synthetic("fit", t, "--model.backbone.width=-8"), r"width.*-8"),
    Case(
        "class_weights-length",
        lambda t: synthetic("fit", t, "--model.class_weights=[1.0,2.0]"),
        r"model\.class_weights",
    ),
    Case(
        "config-missing",
        lambda t: synthetic("fit", t, f"--config={t / 'nowhere.yaml'}"),
        r"nowhere\.yaml",
    ),
    Case(
        "config-invalid-yaml",
        lambda t: synthetic("fit", t, f"--config={_text_file(t / 'bad.yaml', 'model: [unclosed')}"),
        r"bad\.yaml is not valid YAML",
    ),
    Case(
        "config-unknown-key",
        lambda t: synthetic("fit", t, f"--config={_text_file(t / 'c.yaml', UNKNOWN_KEY_CONFIG)}"),
        r"backbon",
    ),
    Case("num_classes-zero", lambda t: lambda: network("v2", num_classes=0), r"num_classes"),
    # -- data -----------------------------------------------------------------------------------------
    Case(
        "folder-root-missing",
        lambda t: folder_fit(t, t / "nowhere"),
        r"data\.root.*nowhere|nowhere.*data\.root",
    ),
    Case(
        "cityscapes-root-missing",
        lambda t: published("fit", t, "hrnet_lit.segmentation.data.CityscapesDataModule", t / "cs"),
        r"data\.root.*cs",
    ),
    Case(
        "ade20k-root-missing",
        lambda t: published("validate", t, "hrnet_lit.segmentation.data.ADE20KDataModule", t / "ade"),
        r"data\.root.*ade",
    ),
    Case(
        "folder-no-classes-txt",
        lambda t: lambda: FolderDataModule(str(_folders(t / "d"))),
        r"classes\.txt",
    ),
    Case(
        "folder-empty-classes-txt",
        lambda t: folder_fit(t, _text_file(folder_data(t / "d") / "classes.txt", "\n").parent),
        r"classes\.txt",
    ),
    Case(
        "folder-truncated-png",
        lambda t: folder_fit(t, truncated_png(folder_data(t / "d") / "images" / "val" / "c.png").parents[2]),
        r"c\.png",
    ),
    Case(
        "folder-not-an-image",
        lambda t: (
            lambda: FolderSegmentation(
                _text_file(folder_data(t / "d") / "images/train/a.png").parents[2], "train"
            )[0]
        ),
        r"a\.png",
    ),
    Case(
        "folder-mask-wrong-size",
        lambda t: lambda: FolderSegmentation(folder_data(t / "d", np.zeros((16, 32), np.uint8)), "train")[0],
        r"masks/train/a\.png.*32x16",
    ),
    Case(
        "folder-mask-labels-out-of-range",
        lambda t: folder_fit(t, folder_data(t / "d", np.full((32, 32), 7, np.uint8))),
        r"masks/\w+/\w\.png.*7",
    ),
    Case(
        "folder-empty-image-folder",
        lambda t: (
            lambda: FolderSegmentation(_folders(folder_data(t / "d"), "images/test", "masks/test"), "test")
        ),
        r"images/test",
    ),
    Case(
        "folder-split-missing",
        lambda t: lambda: FolderSegmentation(folder_data(t / "d"), "test"),
        r"images/test",
    ),
    Case(
        "predict_dir-missing",
        lambda t: synthetic("predict", t, f"--data.predict_dir={t / 'nothing'}"),
        r"data\.predict_dir.*nothing|nothing.*data\.predict_dir",
    ),
    Case(
        "predict_dir-no-images",
        lambda t: synthetic("predict", t, f"--data.predict_dir={_text_file(t / 'notes.txt').parent}"),
        r"data\.predict_dir: no .*images",
    ),
    Case("predict-truncated-image", _write_truncated_predict, r"broken\.png"),
    Case(
        "truncated-png-in-a-loader-worker",
        lambda t: [*_write_truncated_predict(t), "--data.num_workers=1"],
        r"error: cannot read image \S*broken\.png: image file is truncated\n",
    ),
    Case("predict-same-stem", _same_stem, r"x\.jpg.*x\.png|x\.png.*x\.jpg"),
    # -- weights --------------------------------------------------------------------------------------
    Case(
        "pretrained-missing",
        lambda t: synthetic("fit", t, f"--model.pretrained={t / 'w.pth'}"),
        r"model\.pretrained.*w\.pth",
    ),
    Case(
        "pretrained-text-file",
        lambda t: synthetic("fit", t, f"--model.pretrained={_text_file(t / 'w.pth')}"),
        r"model\.pretrained: .*w\.pth is not a PyTorch weights file",
    ),
    Case(
        "pretrained-list",
        lambda t: synthetic("fit", t, f"--model.pretrained={_torch_file(t / 'w.pth', [torch.zeros(2)])}"),
        r"w\.pth.*list",
    ),
    Case(
        "pretrained-python-objects",
        lambda t: lambda: load_pretrained(HRNet(), _torch_file(t / "w.pth", {"x": re.compile("x")})),
        r"w\.pth holds Python objects \(re\._compile\)",
    ),
    Case(
        "pretrained-wrong-shapes",
        lambda t: (
            lambda: load_pretrained(
                network("v2", 3, "w18_small_v1", width=8),
                _torch_file(t / "w16.pth", HRNet.from_preset("w18_small_v1", width=16).state_dict()),
            )
        ),
        r"w16\.pth.*shapes",
    ),
    Case(
        "pretrained-not-hrnet",
        lambda t: (
            lambda: load_pretrained(HRNet(), _torch_file(t / "r.pth", torch.nn.Linear(2, 2).state_dict()))
        ),
        r"r\.pth.*lacks",
    ),
    pytest.param(  # a real fit first
        Case("pretrained-fit-ckpt-other-width", _fit_ckpt_as_pretrained, r"last\.ckpt.*fit checkpoint"),
        marks=pytest.mark.slow,
    ),
    Case(
        "ckpt_path-missing",
        lambda t: synthetic("validate", t, f"--ckpt_path={t / 'gone.ckpt'}"),
        r"gone\.ckpt",
    ),
    Case(
        "ckpt_path-text-file",
        lambda t: synthetic("validate", t, f"--ckpt_path={_text_file(t / 'notes.ckpt')}"),
        r"notes\.ckpt",
    ),
    # -- sweep files ----------------------------------------------------------------------------------
    Case("sweep-missing", lambda t: sweep(t, t / "none.yaml"), r"none\.yaml"),
    Case(
        "sweep-invalid-yaml",
        lambda t: sweep(t, _text_file(t / "s.yaml", "method: grid\nparameters: [unclosed")),
        r"s\.yaml: cannot read it",
    ),
    Case(
        "sweep-unknown-parameter",
        lambda t: sweep(t, sweep_file(t / "s.yaml", parameters={"model.backbone.widht": {"values": [8]}})),
        r"widht",
    ),
    Case("sweep-bad-method", lambda t: sweep(t, sweep_file(t / "s.yaml", method="hyperopt")), r"hyperopt"),
    Case(
        "sweep-empty-values",
        lambda t: sweep(t, sweep_file(t / "s.yaml", parameters={"model.head": {"values": []}})),
        r"model\.head",
    ),
    Case(
        "sweep-bad-value",
        lambda t: sweep(
            t, sweep_file(t / "s.yaml", parameters={"model.backbone.width": {"values": [8, "wide"]}})
        ),
        r"wide",
    ),
    Case(
        "sweep-secret-in-command",
        lambda t: sweep(
            t,
            sweep_file(
                t / "s.yaml", command=["hrnet-lit", "fit", "--model.lr=${envvar:WANDB_API_KEY}", "${args}"]
            ),
        ),
        r"s\.yaml: command: \$\{envvar:WANDB_API_KEY\}",
    ),
    Case(
        "task-eval_scales-negative",
        lambda t: lambda: tiny_task(eval_scales=[1.0, -0.5]),
        r"model\.eval_scales",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_a_clear_error(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message, cli = refusal(case, tmp_path, capsys)
    if cli:
        assert not list((tmp_path / "out").rglob("version_*")), "a failed run left its folder behind"
    assert re.search(case.names, message, re.DOTALL), message


@pytest.mark.slow
def test_a_fit_checkpoint_as_pretrained_loads_its_network(tmp_path: Path) -> None:
    main(synthetic("fit", tmp_path))
    (ckpt,) = (tmp_path / "out").rglob("last.ckpt")
    saved = torch.load(ckpt, weights_only=True)["state_dict"]
    model = network("v2", 5, "w18_small_v1", width=8)
    report = load_pretrained(model, ckpt)
    assert str(report).startswith(f"loaded {len(report.loaded)} tensors from pretrained weights {ckpt}")
    assert "a hrnet-lit fit checkpoint, epoch 0, step 1, backbone preset=w18_small_v1, width=8" in str(report)
    assert not report.missing and not report.skipped
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, saved[f"net.{name}"], msg=name)


def test_masks_are_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image.fromarray(_image(8))
    save_atomically(image, tmp_path / "a.png", "PNG")

    def save_half(self: Image.Image, fp: Path, format: str | None = None) -> None:
        Path(fp).write_bytes(b"\x89PNG\r\n")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_half)
    for name in ("a.png", "b.png"):  # replacing a mask, and a new one
        with pytest.raises(OSError, match="No space"):
            save_atomically(image, tmp_path / name, "PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert np.array_equal(np.array(Image.open(tmp_path / "a.png")), _image(8))
