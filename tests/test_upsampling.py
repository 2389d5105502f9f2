"""Every upsampling of a network and of its task follows the backbone's `upsample_mode` /
`align_corners`, as the official code uses its one ALIGN_CORNERS setting in fusion, head and logits."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from networks import network

from hrnet_lit.models import V2Head, V2pHead
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.segmentation import SegmentationTask
from hrnet_lit.tools.fit_config import parse_fit_args

CONFIGS = Path(__file__).parents[1] / "configs"


def branches(size: tuple[int, int] = (9, 13)) -> list[torch.Tensor]:
    """Four branches at 1/1, 1/2, 1/4, 1/8 of an odd size, widths 2, 4, 8, 16."""
    torch.manual_seed(0)
    h, w = size
    return [torch.randn(2, 2 * 2**k, -(-h // 2**k), -(-w // 2**k)) for k in range(4)]


@pytest.mark.parametrize("align_corners", [True, False])
def test_v2_head_is_the_bilinear_concatenation(align_corners: bool) -> None:
    xs = branches()
    size = xs[0].shape[-2:]
    expected = torch.cat(
        [xs[0]] + [F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners) for x in xs[1:]],
        dim=1,
    )
    head = V2Head([x.shape[1] for x in xs], "bilinear", align_corners)
    assert torch.equal(head(xs), expected)
    other = V2Head([x.shape[1] for x in xs], "bilinear", not align_corners)
    assert not torch.allclose(other(xs), expected)  # the setting matters on these sizes


def test_v2_head_nearest() -> None:
    xs = branches()
    size = xs[0].shape[-2:]
    expected = torch.cat([xs[0]] + [F.interpolate(x, size=size, mode="nearest") for x in xs[1:]], dim=1)
    assert torch.equal(V2Head([x.shape[1] for x in xs], "nearest")(xs), expected)


def test_networks_take_the_backbone_setting() -> None:
    for head in ("v2", "v2p"):
        model = network(head, 3, "w18_small_v1", width=8, align_corners=True, upsample_mode="bilinear")
        concat = model.head if head == "v2" else model.head.concat
        assert concat.align_corners and concat.upsample_mode == "bilinear"
    seg = SegmentationTask.build_network(BackboneConfig(preset="w18_small_v1", width=8, align_corners=True))
    assert seg.head.align_corners
    v2p = SegmentationTask.build_network(
        BackboneConfig(preset="w18_small_v1", width=8, upsample_mode="nearest"), head="v2p"
    )
    assert isinstance(v2p.head, V2pHead) and v2p.head.concat.upsample_mode == "nearest"


@pytest.mark.parametrize("align_corners", [True, False])
def test_segmentation_logits_follow_align_corners(align_corners: bool) -> None:
    task = SegmentationTask(
        BackboneConfig(preset="w18_small_v1", width=8, align_corners=align_corners), num_classes=3
    )
    task.eval()
    image = torch.randn(1, 3, 37, 45)
    with torch.no_grad():
        logits = task(image)
        expected = F.interpolate(logits, size=(37, 45), mode="bilinear", align_corners=align_corners).softmax(
            1
        )
        assert torch.allclose(task.predict_probs(image), expected, atol=1e-6)


def test_ade20k_recipe_aligns_corners_as_the_official_one() -> None:
    """The official ADE20K config sets ALIGN_CORNERS: True, its Cityscapes configs False."""
    ade = parse_fit_args(["--config", str(CONFIGS / "ade20k_w48.yaml")]).model.init_args.backbone
    assert ade.align_corners is True and ade.upsample_mode == "bilinear"
    for name in ("cityscapes_w18.yaml", "cityscapes_w48.yaml"):
        city = parse_fit_args(["--config", str(CONFIGS / name)]).model.init_args.backbone
        assert city.align_corners is False


@pytest.mark.parametrize("folder", ["pose", "classification"])
def test_pose_and_classification_recipes_fuse_with_nearest(folder: str) -> None:
    """The official pose and classification networks upsample with nearest neighbours in fusion."""
    configs = sorted((CONFIGS / folder).glob("*.yaml"))
    assert configs, f"no configs in configs/{folder}"
    for config in configs:
        backbone = yaml.safe_load(config.read_text())["model"]["init_args"]["backbone"]
        assert backbone.get("upsample_mode") == "nearest", config.name
