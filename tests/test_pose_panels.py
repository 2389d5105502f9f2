"""The pose task's W&B validation panels: input | ground-truth skeleton | predicted skeleton."""

import numpy as np
import torch

from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.pose import PoseTask
from hrnet_lit.pose.data import SyntheticPoseDataModule


def test_pose_panels_draw_truth_and_prediction() -> None:
    data = SyntheticPoseDataModule(num_train=4, num_val=4, batch_size=2, num_workers=0)
    task = PoseTask(BackboneConfig(preset="w18_small_v1", width=8), **data.task_args).eval()
    data.setup("validate")
    batch = task.on_after_batch_transfer(next(iter(data.val_dataloader())), 0)  # as the trainer hands it
    with torch.no_grad():
        panels = task.validation_panels(batch, 1)
    (panel,) = panels
    h, w = batch["image"].shape[-2:]
    assert panel.shape == (h, 3 * w, 3) and panel.dtype == np.uint8
    plain, truth, guess = panel[:, :w], panel[:, w : 2 * w], panel[:, 2 * w :]
    assert not np.array_equal(plain, truth)  # the ground-truth skeleton is drawn
    assert not np.array_equal(truth, guess)  # an untrained network's joints are elsewhere
