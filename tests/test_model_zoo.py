"""The released checkpoints of docs/model_zoo.md load whole, in their own key layouts.

Nothing is downloaded: each test writes a file in a source's layout (its prefixes, task-layer names,
wrappers) from one of our tiny networks with random weights, loads it into another network of that
architecture, and checks that every key was placed and that the two compute the same outputs. The
literal keys asserted per layout are the ones the official code builds (checked against the
official repositories' model files). timm's names: tests/test_classification.py loads a timm model's
file through timm and compares the outputs. The slow tests run `validate --model.pretrained=<file>` and the
page's own commands at tiny size.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from data_trees import detections, pose_tree, write_json
from helpers import (
    DETECTION_FIT,
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
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hrnet-lit validate --model.pretrained=<file>`: the official layout and mmseg's layout of the
    same weights load whole and score the same; an mmdet file (backbone and HRFPN only) stops a
    detector's validate with exit status 2."""
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
    mmdet = SOURCES["mmdet HRNet + HRFPN"]
    detector_file = released_file(mmdet, mmdet.build(), tmp_path / "faster_rcnn_hrnetv2p.pth")
    with pytest.raises(SystemExit) as stop:
        detection = ["--config", str(ROOT / "configs" / "detection" / "quickstart.yaml"), *DETECTION_FIT]
        main(
            [
                "validate",
                *detection,
                f"--model.pretrained={detector_file}",
                f"--trainer.logger.init_args.save_dir={tmp_path}",
            ]
        )
    assert stop.value.code == 2
    assert "DetectionTask takes only its backbone from pretrained weights" in capsys.readouterr().err


# The page's commands that run here: the tiny flags of their config, the tree their data root names,
# and the layout of the file each names.
POSE_COCO_TINY = [
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.strategy=auto",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.preset=w18_small_v1",
    "--model.backbone.width=8",
    "--data.input_size=[64,48]",
    "--data.batch_size=2",
    "--data.num_workers=0",
]
PAGE_FILES = {
    "hrnet_cs_8090_torch11.pth": ("HRNet-Semantic-Segmentation", segmentation),
    "fcn_hr48_512x1024_160k_cityscapes_20200602_190946-59b7973e.pth": ("mmseg FCN-HRNet", segmentation),
    "pose_hrnet_w32_256x192.pth": ("deep-high-resolution-net", pose),
    "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth": ("mmpose 1.x topdown heatmap", pose),
}


def page_commands() -> list[list[str]]:
    """The `hrnet-lit validate` commands of docs/model_zoo.md (its inline code spans), as argv."""
    spans = re.findall(r"`(hrnet-lit validate [^`]+)`", PAGE.read_text())
    return [shlex.split(span)[1:] for span in spans]


def flag(argv: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    return values[-1] if values else None


@pytest.mark.slow
def test_the_pages_commands_run_at_tiny_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from test_docs_commands import CITYSCAPES_TINY, write_cityscapes

    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    write_cityscapes(tmp_path / "data" / "cityscapes")
    pose_tree(tmp_path / "data" / "coco")
    write_json(
        tmp_path / "COCO_val2017_detections_AP_H_56_person.json",
        detections([8.0, 4.0, 40.0, 40.0], [20.0, 10.0, 30.0, 34.0])
        + detections([9.0, 5.0, 36.0, 38.0], image_id=4),
    )
    for name, (layout, build) in PAGE_FILES.items():
        released_file(SOURCES[layout], randomised(build(), seed=5), tmp_path / name)

    tiny = {
        "configs/cityscapes_w48.yaml": CITYSCAPES_TINY,
        "configs/pose/coco_w32_256x192.yaml": POSE_COCO_TINY,
    }
    ran = []
    for argv in page_commands():
        config, pretrained = (
            flag(argv, "config") or argv[argv.index("--config") + 1],
            flag(argv, "model.pretrained"),
        )
        if config in tiny and pretrained in PAGE_FILES:
            main([*argv, *tiny[config]])
            ran.append((config, pretrained, flag(argv, "data.person_boxes")))
    assert len(ran) == 5 and {r[1] for r in ran} == set(PAGE_FILES), ran
    assert len(re.findall(r"model\.pretrained: loaded \d+ tensors", caplog.text)) == len(ran)
