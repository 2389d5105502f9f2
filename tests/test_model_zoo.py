"""The released checkpoints of docs/model_zoo.md load whole, in their own key layouts.

Nothing is downloaded: each test writes a file in a source's layout (its prefixes, task-layer names,
wrappers) from one of our tiny networks with random weights, loads it into another network of that
architecture, and checks that every key was placed and that the two compute the same outputs. The
literal keys asserted per layout are the ones the official code builds (checked against the
official repositories' model files). The slow tests run `validate --model.pretrained=<file>` and the
page's own commands at tiny size.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import (
    SEGMENTATION_FIT,
    TINY_CLASSIFICATION,
    TINY_DETECTION,
    TINY_LANDMARKS,
    TINY_POSE,
    TINY_SEGMENTATION,
    metric_rows,
)
from torch import nn

from hrnet_lit.classification.network import build_network as classification_network
from hrnet_lit.cli import main
from hrnet_lit.detection.detector import DetectorConfig
from hrnet_lit.detection.network import build_pyramid
from hrnet_lit.errors import InputError
from hrnet_lit.landmarks.network import build_network as landmark_network
from hrnet_lit.models import load_pretrained
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.pose.network import build_network as pose_network
from hrnet_lit.segmentation.network import build_network as segmentation_network

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "model_zoo.md"
Rename = Callable[[str], str | None]  # our key -> the source's key (None: the source has none)


def prefixed(prefix: str, task: dict[str, str] | None = None) -> Rename:
    """Backbone keys under `prefix`, our task-layer / head modules renamed by `task` (ours -> theirs)."""

    def rename(key: str) -> str | None:
        if key.startswith("backbone."):
            return prefix + key.removeprefix("backbone.")
        for ours, theirs in (task or {}).items():
            if key.startswith(ours):
                return theirs + key.removeprefix(ours)
        return None

    return rename


@dataclass
class Source:
    """One released layout: the network it fits, how our keys are named there, how the file wraps them."""

    build: Callable[[], nn.Module]
    rename: Rename
    literal: tuple[str, ...]  # keys the official code has, which the written file must have too
    wrap: Callable[[dict[str, torch.Tensor]], dict[str, Any]] = lambda state: state
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # keys that are no weight of ours
    drop_counters: bool = False  # files of PyTorch < 0.4.1 have no BatchNorm `num_batches_tracked`
    input_size: tuple[int, int] = (64, 48)


def segmentation() -> nn.Module:
    return segmentation_network(TINY_SEGMENTATION, "v2", 19)


def pose() -> nn.Module:
    return pose_network(TINY_POSE, "v1", 17)


def mmcv_wrap(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {"meta": {"epoch": 210}, "state_dict": state}


SOURCES: dict[str, Source] = {
    "HRNet-Semantic-Segmentation": Source(
        segmentation,
        prefixed("model.", {"task_layer.": "model.last_layer."}),
        (
            "model.last_layer.3.weight",
            "model.transition1.1.0.0.weight",
            "model.stage4.0.fuse_layers.3.0.2.0.weight",
        ),
        extra={"loss.criterion.weight": torch.ones(19)},  # its FullModel saves the loss's class weights
    ),
    "deep-high-resolution-net": Source(
        pose,
        prefixed("", {"task_layer.": "final_layer."}),
        ("final_layer.weight", "stage4.0.fuse_layers.0.3.0.weight", "layer1.0.downsample.0.weight"),
        drop_counters=True,
    ),
    "HRNet-Image-Classification": Source(
        lambda: classification_network(TINY_CLASSIFICATION, "cls", 10),
        prefixed("", {"head.": ""}),
        (
            "incre_modules.0.0.conv1.weight",
            "downsamp_modules.2.0.weight",
            "final_layer.0.weight",
            "classifier.weight",
        ),
        input_size=(64, 64),
    ),
    "HRNet-Facial-Landmark-Detection": Source(
        lambda: landmark_network(TINY_LANDMARKS, "v2", 98),
        prefixed("module.", {"task_layer.": "module.head."}),
        ("module.head.0.weight", "module.head.1.running_var", "module.head.3.weight"),
        wrap=lambda state: {"state_dict": state, "epoch": 60},
        input_size=(64, 64),
    ),
    "mmpose 0.x topdown heatmap": Source(
        pose,
        prefixed("backbone.", {"task_layer.": "keypoint_head.final_layer."}),
        ("backbone.conv1.weight", "keypoint_head.final_layer.weight"),
        wrap=mmcv_wrap,
    ),
    "mmpose 1.x topdown heatmap": Source(
        pose,
        prefixed("backbone.", {"task_layer.": "head.final_layer."}),
        ("backbone.stage4.0.fuse_layers.0.1.0.weight", "head.final_layer.bias"),
        wrap=mmcv_wrap,
    ),
    "mmseg FCN-HRNet": Source(
        segmentation,
        prefixed(
            "backbone.",
            {
                "task_layer.0.bias": "",  # ConvModule before BN: no bias (the loader implies zero)
                "task_layer.0.": "decode_head.convs.0.conv.",
                "task_layer.1.": "decode_head.convs.0.bn.",
                "task_layer.3.": "decode_head.conv_seg.",
            },
        ),
        (
            "decode_head.convs.0.conv.weight",
            "decode_head.convs.0.bn.running_mean",
            "decode_head.conv_seg.bias",
        ),
        wrap=mmcv_wrap,
    ),
    "mmdet HRNet + HRFPN": Source(
        lambda: build_pyramid(TINY_DETECTION, "v2p", DetectorConfig(fpn_channels=16)),
        lambda key: (
            "backbone." + key.removeprefix("backbone.")
            if key.startswith("backbone.")
            else re.sub(r"^head\.(reduction_conv|fpn_convs\.\d+)\.", r"neck.\1.conv.", key)
        ),
        ("neck.reduction_conv.conv.weight", "neck.fpn_convs.4.conv.bias"),
        wrap=mmcv_wrap,
        extra={  # the detector's heads: mmdet's anchors and class order, not torchvision's
            "rpn_head.rpn_conv.weight": torch.zeros(16, 16, 3, 3),
            "roi_head.bbox_head.fc_cls.weight": torch.zeros(81, 32),
        },
        input_size=(64, 64),
    ),
}


def released_file(source: Source, model: nn.Module, path: Path) -> Path:
    """`model`'s weights written as `source` releases them."""
    state: dict[str, torch.Tensor] = {}
    for key, tensor in model.state_dict().items():
        if source.drop_counters and key.endswith("num_batches_tracked"):
            continue
        name = source.rename(key)
        if name:
            state[name] = tensor
    state.update(source.extra)
    torch.save(source.wrap(state), path)
    return path


def randomised(model: nn.Module, seed: int) -> nn.Module:
    """`model` with random weights and BatchNorm statistics (in eval mode), so that a key loaded into
    the wrong place changes the outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator) * 0.5 + 0.5
                tensor.copy_(values if "running_var" in name else values - 0.75)
    if hasattr(model, "task_layer") and isinstance(model.task_layer, nn.Sequential):
        bias = getattr(model.task_layer[0], "bias", None)
        if bias is not None:
            nn.init.zeros_(bias)  # the one tensor the mmseg layout has not: zero there, zero here
    return model.eval()


def outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model(x)
    return list(out.values()) if isinstance(out, dict) else out if isinstance(out, list) else [out]


@pytest.mark.parametrize("name", list(SOURCES))
def test_released_layout_loads_whole(name: str, tmp_path: Path) -> None:
    source = SOURCES[name]
    released = randomised(source.build(), seed=1)
    path = released_file(source, released, tmp_path / "released.pth")
    written = torch.load(path, weights_only=True)
    keys = written.get("state_dict", written)
    assert set(source.literal) <= set(keys), "the official code's own key names"

    ours = randomised(source.build(), seed=2)
    x = torch.randn(1, 3, *source.input_size, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(outputs(ours, x)[0], outputs(released, x)[0])
    report = load_pretrained(ours, path, complete=True)

    assert not report.missing and not report.skipped
    assert report.unused == [k for k in source.extra if not k.startswith("loss.")]
    assert report.ignored == [k for k in source.extra if k.startswith("loss.")]
    counters = [k for k in ours.state_dict() if k.endswith("num_batches_tracked")]
    expected = len(ours.state_dict()) - (len(counters) if source.drop_counters else 0)
    assert len(report.loaded) == expected
    for got, want in zip(outputs(ours, x), outputs(released, x), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_timm_names_load_through_timm_from_a_local_file(tmp_path: Path) -> None:
    """`timm:<name>@<file>`: timm reads the file (its own filters apply) and its model's weights go
    into ours; the classifier then computes timm's outputs."""
    import timm
    from safetensors.torch import save_file

    reference = randomised(timm.create_model("hrnet_w18_small", pretrained=False), seed=3)
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    ours = classification_network(BackboneConfig(preset="w18_small_v1", upsample_mode="nearest"), "cls", 1000)
    report = load_pretrained(ours.eval(), f"timm:hrnet_w18_small.ms_in1k@{path}", complete=True)
    assert not report.missing and not report.unused and not report.skipped
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(outputs(ours, x)[0], outputs(reference, x)[0], rtol=1e-4, atol=1e-5)


def test_a_file_of_another_layout_is_refused_naming_the_file_and_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "resnet50.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 64)}, path)
    with pytest.raises(InputError, match=r"resnet50\.pth.*lacks .*backbone tensors.*'features\.0\.weight'"):
        load_pretrained(segmentation(), path)


def test_evaluating_needs_the_whole_network(tmp_path: Path) -> None:
    """A released segmentation file with 19 classes does not evaluate a 5-class network (a fit may
    start from its backbone); an ImageNet classifier does not evaluate a segmentation network."""
    cityscapes = released_file(
        SOURCES["HRNet-Semantic-Segmentation"], segmentation(), tmp_path / "hrnet_cs.pth"
    )
    five = segmentation_network(TINY_SEGMENTATION, "v2", 5)
    with pytest.raises(
        InputError, match=r"hrnet_cs\.pth .*does not hold the whole network.*task_layer\.3\.weight"
    ):
        load_pretrained(five, cityscapes, complete=True)
    assert load_pretrained(five, cityscapes).skipped == [
        "model.last_layer.3.weight",
        "model.last_layer.3.bias",
    ]

    source = SOURCES["HRNet-Image-Classification"]
    imagenet = released_file(source, source.build(), tmp_path / "hrnet_imagenet.pth")
    with pytest.raises(InputError, match=r"task_layer\.0\.weight"):
        load_pretrained(five, imagenet, complete=True)


def validate(args: list[str], save_dir: Path) -> dict[str, float]:
    """`hrnet-lit validate` of the quickstart config with `args`: the metrics it logged."""
    config = str(ROOT / "configs" / "quickstart.yaml")
    main(["validate", "--config", config, *args, f"--trainer.logger.init_args.save_dir={save_dir}"])
    rows = metric_rows(save_dir)
    return {column: float(value) for row in rows for column, value in row.items() if value}


@pytest.mark.slow
def test_validate_evaluates_released_weights_through_the_cli(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`hrnet-lit validate --model.pretrained=<file>`: the official layout and mmseg's layout of the
    same weights load whole and score the same; a file without the task's head stops with exit
    status 2."""
    network = randomised(segmentation_network(TINY_SEGMENTATION, "v2", 5), seed=4)  # 5 synthetic classes
    files = {
        name: released_file(SOURCES[name], network, tmp_path / f"{k}.pth")
        for k, name in enumerate(("HRNet-Semantic-Segmentation", "mmseg FCN-HRNet"))
    }
    scores = [
        validate([*SEGMENTATION_FIT, f"--model.pretrained={path}"], tmp_path / name)
        for name, path in files.items()
    ]
    assert scores[0]["val/mIoU"] == scores[1]["val/mIoU"] and scores[0]["val/loss"] == scores[1]["val/loss"]
    loaded = re.findall(r"model\.pretrained: loaded (\d+) tensors", caplog.text)
    assert loaded == [str(len(network.state_dict()))] * 2, caplog.text
    backbone_only = tmp_path / "backbone.pth"
    torch.save(network.backbone.state_dict(), backbone_only)
    with pytest.raises(SystemExit) as stop:
        validate([*SEGMENTATION_FIT, f"--model.pretrained={backbone_only}"], tmp_path / "backbone")
    assert stop.value.code == 2
