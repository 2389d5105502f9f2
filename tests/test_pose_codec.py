"""The pose HeatmapCodec: one object encodes the targets and decodes the heatmaps; the task owns it, the
data module receives it, and the old keys (model.decode, data.sigma, data.unbiased_targets) are
accepted only where they agree with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer

from hrnet_lit.cli import main
from hrnet_lit.cli.app import lightning_cli
from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.pose.codec import HeatmapCodec
from hrnet_lit.pose.data import SyntheticPoseDataModule
from hrnet_lit.pose.task import PoseTask

QUICKSTART = "configs/pose/quickstart.yaml"
TINY = [
    "--trainer.logger=false",
    "--model.backbone.width=8",
    "--data.num_train=4",
    "--data.num_val=2",
    "--data.image_size=[64,64]",
    "--data.input_size=[64,48]",
    "--data.batch_size=2",
]


def _round_trip_errors(codec: HeatmapCodec) -> np.ndarray:
    """Distance (heatmap pixels) from each joint to its encoded-then-decoded position, for joints on a
    sub-pixel grid of a 64 x 48 heatmap (256 x 192 input)."""
    steps = np.arange(0.0, 1.0, 0.125)
    joints = np.array([[20 + dx, 30 + dy] for dx in steps for dy in steps])  # heatmap pixels
    errors = []
    for joint in joints:
        target, weight = codec.encode(joint[None] * 4, np.ones(1), (256, 192), (64, 48))
        assert weight.tolist() == [1.0]
        decoded, _ = codec.decode(torch.from_numpy(target)[None].double())
        errors.append(np.abs(decoded[0, 0].numpy() - joint).max())
    return np.array(errors)


def test_round_trip_lands_within_a_fraction_of_a_pixel_and_dark_closer() -> None:
    standard = _round_trip_errors(HeatmapCodec(sigma=2.0, dark=False))
    dark = _round_trip_errors(HeatmapCodec(sigma=2.0, dark=True))
    assert standard.max() <= 0.5 + 1e-6  # the official targets sit on the nearest heatmap pixel
    assert dark.max() < 0.05
    assert dark.mean() < standard.mean() / 5


def test_sigma_must_be_positive() -> None:
    with pytest.raises(InputError, match=r"model\.codec\.sigma"):
        HeatmapCodec(sigma=0.0)


def _cli(*flags: str) -> object:
    return lightning_cli(["--config", QUICKSTART, *TINY, *flags], run=False)


def test_the_data_module_encodes_with_the_tasks_codec() -> None:
    """DARK switched on the model changes the data's targets: the data has no codec of its own."""
    targets = {}
    for dark in (False, True):
        cli = _cli(f"--model.codec.dark={str(dark).lower()}", "--model.codec.sigma=1.5")
        assert cli.model.codec == cli.datamodule.codec == HeatmapCodec(sigma=1.5, dark=dark)
        targets[dark] = cli.datamodule.dataset("val")[0]["target"]
    assert targets[False].shape == targets[True].shape == (13, 16, 12)
    assert not torch.equal(targets[False], targets[True])


def test_old_keys_that_agree_with_the_codec_are_accepted() -> None:
    cli = _cli("--model.decode=dark", "--data.unbiased_targets=true", "--data.sigma=2.0")
    assert cli.model.codec == cli.datamodule.codec == HeatmapCodec(sigma=2.0, dark=True)


def test_old_keys_alone_set_the_codec_of_task_and_data() -> None:
    """A config from before the codec: `model.decode` with the data's `unbiased_targets`."""
    cli = _cli("--model.codec=null", "--model.decode=standard", "--data.unbiased_targets=false")
    assert cli.model.codec == cli.datamodule.codec == HeatmapCodec(sigma=2.0, dark=False)


@pytest.mark.parametrize(
    ("flags", "keys"),
    [
        (["--model.decode=standard"], ("model.decode", "model.codec.dark")),
        (["--data.unbiased_targets=false"], ("data.unbiased_targets", "model.codec.dark")),
        (["--data.sigma=3"], ("data.sigma", "model.codec.sigma")),
    ],
)
def test_old_keys_that_contradict_the_codec_are_refused_naming_both(
    flags: list[str], keys: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", QUICKSTART, *TINY, *flags])
    assert exit_.value.code == 2
    message = capsys.readouterr().err
    assert all(key in message for key in keys), message


def test_a_python_built_data_module_with_another_codec_is_refused_at_setup(tmp_path: Path) -> None:
    data = SyntheticPoseDataModule(
        num_train=2, num_val=2, input_size=(64, 48), batch_size=2, num_workers=0, codec=HeatmapCodec()
    )
    backbone = BackboneConfig(preset="w18_small_v1", width=8, upsample_mode="nearest")
    task = PoseTask(backbone, codec=HeatmapCodec(dark=True), **data.task_args)
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    with pytest.raises(InputError, match=r"data\.codec .* model\.codec"):
        trainer.validate(task, datamodule=data)


def _whole_map_targets(
    joints: np.ndarray,
    visible: np.ndarray,
    input_size: tuple[int, int],
    heatmap_size: tuple[int, int],
    sigma: float,
    unbiased: bool,
) -> np.ndarray:
    """The official `generate_target` as written: the Gaussian over the whole map, masked to its window."""
    (in_h, in_w), (hm_h, hm_w) = input_size, heatmap_size
    stride = np.array([in_w / hm_w, in_h / hm_h])
    heatmaps = np.zeros((len(joints), hm_h, hm_w), dtype=np.float32)
    radius = int(sigma * 3)
    ys, xs = np.arange(hm_h, dtype=np.float32)[:, None], np.arange(hm_w, dtype=np.float32)[None, :]
    for k, joint in enumerate(joints):
        exact = joint / stride
        mu_x, mu_y = int(exact[0] + 0.5), int(exact[1] + 0.5)
        off = mu_x - radius >= hm_w or mu_y - radius >= hm_h or mu_x + radius + 1 < 0 or mu_y + radius + 1 < 0
        if not visible[k] or off:
            continue
        cx, cy = (exact[0], exact[1]) if unbiased else (mu_x, mu_y)
        window = (np.abs(xs - mu_x) <= radius) & (np.abs(ys - mu_y) <= radius)
        heatmaps[k] = np.where(window, np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2)), 0.0)
    return heatmaps


@pytest.mark.parametrize("dark", [False, True])
def test_targets_on_the_window_are_bit_identical_to_the_whole_map(dark: bool) -> None:
    rng = np.random.default_rng(3)
    for sigma, input_size in ((2.0, (256, 192)), (3.0, (384, 288)), (1.5, (96, 72))):
        heatmap_size = (input_size[0] // 4, input_size[1] // 4)
        joints = rng.uniform(-40, max(input_size) + 40, (200, 2))  # near and past every edge too
        visible = rng.uniform(size=200) > 0.1
        targets, _ = HeatmapCodec(sigma, dark).encode(joints, visible, input_size, heatmap_size)
        expected = _whole_map_targets(joints, visible, input_size, heatmap_size, sigma, dark)
        assert targets.any() and np.array_equal(targets, expected)
