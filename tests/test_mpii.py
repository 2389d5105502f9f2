"""MPII in the pose task: the official json and `gt_valid.mat` read from a tiny tree the test writes,
the official crop, PCKh (perfect 1, shifted worse, the pelvis and thorax left out), and a tiny fit
of the official W32 recipe that logs `val/PCKh`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from helpers import logged, metric_rows
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.errors import InputError
from hrnet_lit.pose.data import MPIIDataModule
from hrnet_lit.pose.pckh import PCKh, head_size
from hrnet_lit.tools.summary import summarize_fit_config

RNG = np.random.default_rng(0)
HEAD_BOXES = np.array(
    [[[20.0, 40.0], [10.0, 30.0]], [[50.0, 70.0], [34.0, 54.0]]]
)  # (2, 2, N): x1 y1 / x2 y2


def write_mpii(root: Path) -> list[dict]:
    """Two persons on one 96 x 96 image, MATLAB's 1-based pixels; person 1's joint 3 is missing."""
    (root / "annot").mkdir(parents=True)
    (root / "images").mkdir()
    Image.fromarray(RNG.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(root / "images" / "001.jpg")
    entries = []
    for k in range(2):
        joints = RNG.uniform(20, 76, size=(16, 2))
        visible = np.ones(16)
        visible[3] = k == 0
        entries.append(
            {
                "image": "001.jpg",
                "center": [48.0, 40.0 + k],
                "scale": 0.3,
                "joints": joints.tolist(),
                "joints_vis": visible.tolist(),
            }
        )
    for name in ("train", "valid"):
        (root / "annot" / f"{name}.json").write_text(json.dumps(entries))
    missing = np.zeros((16, 2))
    missing[3, 1] = 1
    scipy.io.savemat(root / "annot" / "gt_valid.mat", {"headboxes_src": HEAD_BOXES, "jnt_missing": missing})
    return entries


def test_mpii_json_and_ground_truth(tmp_path: Path) -> None:
    entries = write_mpii(tmp_path / "mpii")
    data = MPIIDataModule(str(tmp_path / "mpii"), num_workers=0, input_size=(64, 64))
    assert data.task_args["num_joints"] == 16
    assert data.task_args["flip_pairs"] == [[0, 5], [1, 4], [2, 3], [10, 15], [11, 14], [12, 13]]
    dataset = data.dataset("val")
    person = dataset.persons[1]
    # The official crop: centre 15 x scale lower, scale x 1.25, then 0-based.
    np.testing.assert_allclose(person.center, [47.0, 41.0 + 15 * 0.3 - 1])
    np.testing.assert_allclose(person.scale, [0.375, 0.375])
    np.testing.assert_allclose(person.joints[:, :2], np.asarray(entries[1]["joints"]) - 1)
    assert person.joints[3, 2] == 0 and dataset.persons[0].joints[3, 2] == 1
    sample = dataset[1]
    assert sample["head_size"] == pytest.approx(0.6 * np.hypot(70 - 40, 54 - 30))  # person 1's box
    assert sample["image"].shape == (3, 64, 64) and sample["target"].shape == (16, 16, 16)
    assert len(data.ground_truth("test").getAnnIds()) == 2  # COCO index for the AP, test = val
    bad = MPIIDataModule(str(tmp_path / "mpii"), val_annotations="annot/none.json")
    with pytest.raises(InputError, match="data.val_annotations: annotation file .*none.json not found"):
        bad.dataset("val")


def test_pckh_perfect_one_shifted_worse() -> None:
    joints = torch.cat([torch.as_tensor(RNG.uniform(0, 90, (2, 16, 2))), torch.ones(2, 16, 1)], dim=-1)
    joints[1, 3, 2] = 0  # unlabelled: not counted
    sizes = head_size(torch.as_tensor(HEAD_BOXES).permute(2, 0, 1).reshape(2, 4))
    metric = PCKh(16)
    metric.update(joints[..., :2], joints, sizes)
    assert metric.compute() == {"PCKh": 1.0, "PCKh@0.1": 1.0}
    metric.reset()
    off = joints[..., :2].clone()
    off[..., 0] += 0.3 * sizes[:, None]  # within 0.5, beyond 0.1 head sizes
    off[:, :8, 0] += 0.3 * sizes[:, None]  # the right leg, pelvis and thorax: 0.6, beyond 0.5
    metric.update(off, joints, sizes)
    values = metric.compute()
    # Counted: 14 joints a person less person 1's joint 3 = 27; within 0.5: joints 8-15 of both = 16.
    assert values["PCKh"] == pytest.approx(16 / 27) and values["PCKh@0.1"] == 0
    metric.reset()
    thorax = joints[..., :2].clone()
    thorax[:, 6:8] += 100  # the pelvis and thorax are not in the official mean
    metric.update(thorax, joints, sizes)
    assert metric.compute()["PCKh"] == 1.0


@pytest.mark.slow
def test_official_mpii_recipe_fits_and_logs_pckh(tmp_path: Path) -> None:
    write_mpii(tmp_path / "mpii")
    main(
        [
            "fit", "--config", "configs/pose/mpii_w32_256x256.yaml", f"--data.root={tmp_path / 'mpii'}",
            "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.strategy=auto",
            "--trainer.max_steps=1", "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--model.backbone.preset=w18_small_v1", "--model.backbone.width=8", "--data.input_size=[64,64]",
            "--data.batch_size=2", "--data.num_workers=0", f"--trainer.logger.init_args.save_dir={tmp_path}",
            f"--trainer.default_root_dir={tmp_path}",
        ]
    )  # fmt: skip
    rows = metric_rows(tmp_path)
    assert 0 <= logged(rows, "val/PCKh")[-1] <= 1 and logged(rows, "val/AP")
    assert list(tmp_path.rglob("best-*.ckpt")), "the best checkpoint by val/PCKh"


@pytest.mark.parametrize(("width", "params"), [(32, 28_536_080), (48, 63_595_696)])
def test_official_mpii_networks_size(width: int, params: int) -> None:
    """The official W32 / W48 at 256 x 256 with 16 heatmaps: the COCO networks (28.5M, 63.6M in the
    official README) less one joint's 1x1 filter."""
    row = summarize_fit_config(["--config", f"configs/pose/mpii_w{width}_256x256.yaml"], None)
    assert row["params"] == params and row["input_size"] == [256, 256] and row["num_joints"] == 16
