"""`--model.pretrained` weights reach the HRNet inside every task's network (the detector's too)."""

from pathlib import Path

import pytest
import torch
from helpers import TINY_SEGMENTATION

from hrnet_lit.classification import ClassificationTask
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.detection import DetectionTask
from hrnet_lit.instance import InstanceTask
from hrnet_lit.models import HRNet, load_pretrained
from hrnet_lit.pose import PoseTask
from hrnet_lit.segmentation import SegmentationTask

TASKS = {
    SegmentationTask: {"num_classes": 3},
    PoseTask: {"num_joints": 5},
    ClassificationTask: {"num_classes": 4},
    DetectionTask: {"num_classes": 2},
    InstanceTask: {"num_classes": 2},
}


@pytest.mark.parametrize("task_class", list(TASKS), ids=lambda t: t.__name__)
def test_backbone_weights_reach_every_task(task_class: type[HRNetTask], tmp_path: Path) -> None:
    task = task_class(backbone=TINY_SEGMENTATION, **TASKS[task_class])
    torch.manual_seed(1)
    source = TINY_SEGMENTATION.build("v2")  # the same HRNet, other weights
    path = tmp_path / "backbone.pth"
    torch.save(source.state_dict(), path)
    target = task.pretrained_target()
    backbone = target if isinstance(target, HRNet) else target.backbone
    weights = {k: v for k, v in source.state_dict().items() if k in backbone.state_dict()}
    assert weights and any(not torch.equal(v, backbone.state_dict()[k]) for k, v in weights.items())
    load_pretrained(target, str(path))
    assert all(torch.equal(v, backbone.state_dict()[k]) for k, v in weights.items())
