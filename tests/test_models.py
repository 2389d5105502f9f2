"""The backbone, heads and knobs: exact official sizes, timm equivalence, any input size."""

from __future__ import annotations

import pytest
import timm
import torch
from networks import network

from hrnet_lit.errors import InputError
from hrnet_lit.models import (
    FUSE_METHODS,
    HEAD_NAMES,
    HRNet,
    V2pHead,
    count_macs,
    count_params,
    gmacs,
    load_pretrained,
)


@pytest.mark.parametrize(
    ("head", "num_classes", "preset", "params"),
    [
        ("cls", 1000, "w32", 41_232_680),  # HRNet-W32-C, ImageNet
        ("v2", 19, "w48", 65_859_379),  # HRNetV2-W48, Cityscapes
        ("v1", 17, "w32", 28_536_113),  # pose HRNet-W32, COCO
    ],
)
def test_parameter_counts_match_official_models(
    head: str, num_classes: int, preset: str, params: int
) -> None:
    with torch.device("meta"):
        model = network(head, num_classes, preset)
    assert count_params(model) == params


def test_w48_segmentation_gmacs_match_paper() -> None:
    with torch.device("meta"):
        model = network("v2", 19, "w48")
    assert round(gmacs(count_macs(model, (1024, 2048))), 1) == 696.2


@pytest.mark.parametrize("preset", ["w18", "w32"])
def test_backbone_equals_timm_features(preset: str) -> None:
    torch.manual_seed(0)
    reference = timm.create_model(f"hrnet_{preset}", features_only=True, feature_location="").eval()
    ours = HRNet.from_preset(preset, upsample_mode="nearest").eval()
    report = load_pretrained(ours, reference.state_dict())
    assert not report.missing and not report.unused
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        expected, got = reference(x)[1:], ours(x)
    assert len(got) == 4
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-5)


def test_classifier_equals_timm() -> None:
    torch.manual_seed(0)
    reference = timm.create_model("hrnet_w18", num_classes=10).eval()
    ours = network("cls", 10, "w18", upsample_mode="nearest").eval()
    report = load_pretrained(ours, reference.state_dict())
    assert not report.missing and not report.skipped
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)


SMALL = {"preset": "w18_small_v1", "width": 8}


@pytest.mark.parametrize("fuse_method", FUSE_METHODS)
@pytest.mark.parametrize("head", HEAD_NAMES)
def test_every_head_and_fuse_method_on_odd_sizes(head: str, fuse_method: str) -> None:
    model = network(head, 5, fuse_method=fuse_method, **SMALL)
    x = torch.randn(2, 3, 97, 131, requires_grad=True)
    out = model(x)
    if head == "cls":
        assert out.shape == (2, 5)
        loss = out.mean()
    else:
        assert out.shape == (2, 5, 25, 33)
        loss = out.mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused, f"parameters outside the graph: {unused[:5]}"


@pytest.mark.parametrize("norm", ["group", "sync_batch"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_norm_and_upsampling_knobs(norm: str, mode: str) -> None:
    model = HRNet.from_preset("w18_small_v1", norm=norm, upsample_mode=mode, align_corners=mode == "bilinear")
    shapes = [o.shape[-2:] for o in model(torch.randn(1, 3, 33, 45))]
    assert shapes == [(9, 12), (5, 6), (3, 3), (2, 2)]


def test_small_presets_differ_beyond_width() -> None:
    v1, v2, w18 = (HRNet.from_preset(p) for p in ("w18_small_v1", "w18_small_v2", "w18"))
    assert (len(v1.stage3), len(v2.stage3), len(w18.stage3)) == (1, 3, 4)
    assert (len(v1.layer1), len(v2.layer1), len(w18.layer1)) == (1, 2, 4)
    assert v1.feature_info.channels() == [16, 32, 64, 128] and w18.feature_info.channels() == [
        18,
        36,
        72,
        144,
    ]


def test_feature_info_describes_each_output_as_timm_does() -> None:
    """Channels and stride of every output, from the module that computes it; a backbone fusing
    into fewer branches (for a V1 head) describes only those."""
    model = HRNet.from_preset("w18_small_v1", width=8)
    outputs = model(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outputs] == model.feature_info.channels() == [8, 16, 32, 64]
    assert [64 // o.shape[-2] for o in outputs] == model.feature_info.reduction() == [4, 8, 16, 32]
    assert {f["module"] for f in model.feature_info} == {"stage4.0"}
    assert dict(model.named_modules())["stage4.0"] is model.stage4[0]
    assert HRNet.from_preset("w18_small_v1", width=8, num_outputs=1).feature_info.channels() == [8]


def test_v2p_pyramid_over_the_backbone_on_odd_sizes() -> None:
    backbone = HRNet.from_preset("w18_small_v1", width=8)
    pyramid = V2pHead(backbone.feature_info.channels())
    out = pyramid(backbone(torch.randn(2, 3, 97, 131)))
    assert [o.shape for o in out] == [(2, 256, 25 // s, 33 // s) for s in (1, 2, 4, 8, 16)]  # floor


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("fuse_method", "max", "fuse_method='max'.*sum"),
        ("upsample_mode", "bicubic", "upsample_mode='bicubic'"),
        ("norm", "layer", "norm='layer'.*group"),
        ("width", 0, "width=0"),
        ("num_modules", (1, 1, 4), "num_modules.*4 entries"),
        ("num_modules", (2, 1, 4, 3), "stage 1"),
        ("block", ("bottleneck", "basic", "dense", "basic"), "block=.*basic"),
    ],
)
def test_bad_knobs_name_the_knob(knob: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HRNet(**{knob: value})


def test_unknown_preset_and_head_are_refused() -> None:
    with pytest.raises(ValueError, match="preset='w99'.*w18_small_v1"):
        HRNet.from_preset("w99")
    with pytest.raises(ValueError, match="head='v3'.*v2p"):
        network("v3", 2)


def test_v1_backbone_fuses_only_into_the_high_resolution_branch() -> None:
    v1, v2 = network("v1", 17, "w32"), network("v2", 19, "w32")
    assert len(v1.backbone.stage4[-1].fuse_layers) == 1 and len(v2.backbone.stage4[-1].fuse_layers) == 4
    report = load_pretrained(v1, v2.backbone.state_dict())
    assert report.unused and all(k.startswith("stage4.2.fuse_layers.") for k in report.unused)


def test_grad_checkpointing_gives_the_same_gradients_and_norm_statistics() -> None:
    torch.manual_seed(0)
    plain = HRNet.from_preset("w18_small_v2", width=8)
    ckpt = HRNet.from_preset("w18_small_v2", width=8, grad_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 67, 75)
    for model in (plain, ckpt):
        sum(o.square().mean() for o in model(x)).backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-6, msg=name)
    for (name, a), b in zip(plain.named_buffers(), ckpt.buffers(), strict=True):
        torch.testing.assert_close(b, a, msg=name)


def test_load_pretrained_is_strict_on_the_backbone(tmp_path) -> None:
    source = HRNet.from_preset("w18").state_dict()
    model = network("v2", 19, "w18", fuse_method="concat")
    path = tmp_path / "hrnet_w18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.items()}}, path)
    report = load_pretrained(model, path)
    assert report.missing and all(".merges." in k or k.startswith("task_layer.") for k in report.missing)
    torch.testing.assert_close(model.backbone.conv1.weight, source["conv1.weight"])

    del source["stage3.1.branches.0.0.conv1.weight"]
    with pytest.raises(InputError, match=r"stage3\.1\.branches\.0\.0\.conv1\.weight"):
        load_pretrained(model, source)
    with pytest.raises(ValueError, match="shapes differ"):
        load_pretrained(model, HRNet.from_preset("w32").state_dict())
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_pretrained(model, tmp_path / "missing.pth")
