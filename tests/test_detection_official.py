"""The detector against the official HRNetV2p Faster R-CNN (HRNet-Object-Detection, mmdetection v1):
each COCO recipe's settings, HRFPN's floor pooling, the official anchors, and the torchvision
extensions (border anchors, the low-quality floor, the box loss's beta, the resize rounding)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_DETECTION
from timm.optim import create_optimizer_v2
from torch import nn
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads

from hrnet_lit.compat import detection_matcher
from hrnet_lit.detection.detector import DetectorConfig, HRNetFasterRCNN
from hrnet_lit.detection.network import build_network, build_pyramid
from hrnet_lit.detection.rcnn_parts import FlooredMatcher
from hrnet_lit.detection.task import DetectionTask
from hrnet_lit.errors import InputError
from hrnet_lit.models import V2pHead
from hrnet_lit.tools.fit_config import config_network, parse_fit_args

CONFIGS = Path(__file__).parents[1] / "configs" / "detection"
TINY = DetectorConfig(min_size=64, max_size=96, fpn_channels=16, box_head_width=32)
RECIPES = [f"coco_w{w}_{s}" for w in (18, 32, 40) for s in ("1x", "2x")]


@pytest.mark.parametrize("name", RECIPES)
def test_coco_recipes_are_the_official_ones(name: str) -> None:
    """Every setting of faster_rcnn_hrnetv2p_w{18,32,40}_{1x,2x}.py, on the network the recipe builds."""
    config = parse_fit_args(["--config", str(CONFIGS / f"{name}.yaml")])
    task, arch, _ = config_network(config)
    with torch.device("meta"):
        net = task.build_network(**arch)
    width, schedule = int(name[6:8]), name[-2:]
    assert arch["head"] == "v2p" and arch["num_classes"] == 80
    assert arch["backbone"].preset == f"w{width}" and arch["backbone"].norm == "batch"
    pyramid = net.backbone
    fusions = [m for m in pyramid.backbone.modules() if hasattr(m, "fuse_layers")]
    assert fusions and all(m.upsample_mode == "nearest" for m in fusions), "nn.Upsample(mode='nearest')"
    assert pyramid.head.concat.upsample_mode == "bilinear" and not pyramid.head.concat.align_corners
    assert pyramid.head.ceil_mode is False and len(pyramid.head.fpn_convs) == 5
    assert pyramid.head.out_channels == 256
    assert pyramid.norm_eval is True and pyramid.frozen == []  # norm_eval=True, frozen_stages=-1
    transform = net.transform
    assert (transform.min_size, transform.max_size) == ((800,), 1333)
    assert transform.size_divisible == 32 and transform.rounding == "round"
    assert transform.image_mean == pytest.approx([123.675 / 255, 116.28 / 255, 103.53 / 255])
    assert transform.image_std == pytest.approx([58.395 / 255, 57.12 / 255, 57.375 / 255])
    anchors = net.rpn.anchor_generator
    assert anchors.strides == (4, 8, 16, 32, 64) and anchors.sizes == ((32,), (64,), (128,), (256,), (512,))
    assert all(r == (0.5, 1.0, 2.0) for r in anchors.aspect_ratios)
    rpn = net.rpn
    assert rpn.allowed_border == 0
    assert isinstance(rpn.proposal_matcher, FlooredMatcher) and rpn.proposal_matcher.min_low_quality == 0.3
    assert (rpn.proposal_matcher.high_threshold, rpn.proposal_matcher.low_threshold) == (0.7, 0.3)
    assert (rpn.fg_bg_sampler.batch_size_per_image, rpn.fg_bg_sampler.positive_fraction) == (256, 0.5)
    assert rpn.nms_thresh == 0.7
    for mode in (True, False):  # nms_pre = nms_post = max_num = 2000, the test_cfg used in training too
        rpn.train(mode)
        assert (rpn.pre_nms_top_n(), rpn.post_nms_top_n()) == (2000, 2000)
    heads = net.roi_heads
    assert heads.box_loss_beta == 1.0 and heads.proposal_matcher.min_low_quality == 0.5
    assert (heads.proposal_matcher.high_threshold, heads.proposal_matcher.low_threshold) == (0.5, 0.5)
    assert (heads.fg_bg_sampler.batch_size_per_image, heads.fg_bg_sampler.positive_fraction) == (512, 0.25)
    assert heads.box_coder.weights == (10.0, 10.0, 5.0, 5.0)  # target_stds (0.1, 0.1, 0.2, 0.2)
    assert (heads.score_thresh, heads.nms_thresh, heads.detections_per_img) == (0.05, 0.5, 100)
    assert heads.box_roi_pool.featmap_names == ["0", "1", "2", "3"]
    assert heads.box_roi_pool.output_size == (7, 7) and heads.box_roi_pool.sampling_ratio == 2
    assert heads.box_head.fc6.out_features == heads.box_head.fc7.out_features == 1024
    assert arch["detector"].init == "official"

    model, trainer, data = config.model.init_args, config.trainer, config.data.init_args
    assert model.optimizer == "momentum"  # plain SGD; timm's `sgd` is Nesterov
    sgd = create_optimizer_v2(nn.Linear(1, 1), opt=model.optimizer, lr=model.lr, momentum=model.momentum)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] is False
    assert (model.lr, model.momentum, model.weight_decay) == (0.02, 0.9, 0.0001)
    assert trainer.devices * data.batch_size == 16, "lr 0.02 is for 16 images (8 GPUs x 2)"
    assert (model.warmup_steps, model.warmup_ratio) == (500, pytest.approx(1 / 3))
    assert (trainer.gradient_clip_val, trainer.gradient_clip_algorithm) == (35, "norm")
    assert model.scheduler == "multistep" and model.decay_rate == 0.1
    milestones, epochs = {"1x": ([8, 11], 12), "2x": ([20, 23], 24)}[schedule]
    assert (model.decay_milestones, trainer.max_epochs) == (milestones, epochs)


def test_hrfpn_levels_of_an_odd_input_have_the_official_sizes() -> None:
    """Floor pooling: a stride-4 map of 24 x 40 (an image padded to 96 x 160, a multiple of 32 but
    not 64) pools to 1 x 2 at stride 64, where ceil mode gives 2 x 3; an odd 97 x 131 image too."""
    torch.manual_seed(0)
    pyramid = build_pyramid(TINY_DETECTION, "v2p", TINY).eval()
    image = torch.randn(1, 3, 96, 160)
    with torch.no_grad():
        levels = pyramid(image)
        odd = pyramid(torch.randn(1, 3, 97, 131))  # stride-4 map 25 x 33
        # The official HRFPN's coarsest level: F.avg_pool2d(out, kernel_size=16, stride=16).
        head = pyramid.head
        reduced = head.reduction_conv(head.concat(pyramid.backbone(image)))
        official = head.fpn_convs[4](F.avg_pool2d(reduced, kernel_size=16, stride=16))
    assert [tuple(f.shape[-2:]) for f in levels.values()] == [(24, 40), (12, 20), (6, 10), (3, 5), (1, 2)]
    assert [tuple(f.shape[-2:]) for f in odd.values()] == [(25, 33), (12, 16), (6, 8), (3, 4), (1, 2)]
    torch.testing.assert_close(levels["4"], official)
    ceil = V2pHead([4, 8, 16, 32], 16, ceil_mode=True)
    branches = [torch.randn(1, c, 24 // 2**k, 40 // 2**k) for k, c in enumerate((4, 8, 16, 32))]
    assert tuple(ceil(branches)[-1].shape[-2:]) == (2, 3)


def official_anchors(stride: int, grid: tuple[int, int]) -> torch.Tensor:
    """mmdetection v1 `AnchorGenerator(base_size=stride, scales=[8], ratios=[0.5, 1, 2])` grid anchors
    (its `gen_base_anchors` and `grid_anchors`), in its +1 convention (x2, y2 the last pixel)."""
    w = h = stride
    x_ctr, y_ctr = 0.5 * (w - 1), 0.5 * (h - 1)
    ratios, scales = torch.tensor([0.5, 1.0, 2.0]), torch.tensor([8.0])
    h_ratios = torch.sqrt(ratios)
    w_ratios = 1 / h_ratios
    ws = (w * w_ratios[:, None] * scales[None, :]).view(-1)
    hs = (h * h_ratios[:, None] * scales[None, :]).view(-1)
    base = torch.stack(
        [x_ctr - 0.5 * (ws - 1), y_ctr - 0.5 * (hs - 1), x_ctr + 0.5 * (ws - 1), y_ctr + 0.5 * (hs - 1)],
        dim=-1,
    ).round()
    shift_x = torch.arange(0, grid[1]) * stride
    shift_y = torch.arange(0, grid[0]) * stride
    xx, yy = shift_x.repeat(len(shift_y)), shift_y.view(-1, 1).repeat(1, len(shift_x)).view(-1)
    shifts = torch.stack([xx, yy, xx, yy], dim=-1).float()
    return (base[None] + shifts[:, None]).view(-1, 4)


def test_anchors_are_the_official_ones_in_continuous_coordinates() -> None:
    """Centred on their cells (offset 0.5) and at the level's fixed stride, the anchors equal the
    official ones with x2 = x2_official + 1, on every level of a 96 x 160 padded image."""
    net = build_network(TINY_DETECTION, "v2p", 3, TINY)
    images = ImageList(torch.zeros(1, 3, 96, 160), [(96, 150)])
    features = list(net.backbone(images.tensors).values())
    (ours,) = net.rpn.anchor_generator(images, features)
    official = torch.cat(
        [official_anchors(s, tuple(f.shape[-2:])) for s, f in zip((4, 8, 16, 32, 64), features, strict=True)]
    )
    torch.testing.assert_close(ours, official + torch.tensor([0.0, 0.0, 1.0, 1.0]))
    corner = build_network(
        TINY_DETECTION, "v2p", 3, DetectorConfig(**{**vars(TINY), "anchor_center_offset": 0.0})
    )
    (moved,) = corner.rpn.anchor_generator(images, features)
    assert moved[0].tolist() == [-23.0, -11.0, 23.0, 11.0], "torchvision's: centred on the cell's corner"


def iou_matrix(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows)


def test_floored_matcher_keeps_low_quality_matches_only_above_the_floor() -> None:
    matcher = FlooredMatcher(0.7, 0.3, 0.3)
    # gt 0's best prediction (IoU 0.35) is below 0.7 but above the floor: matched; gt 1's best is 0.25.
    quality = iou_matrix([0.35, 0.1, 0.0], [0.0, 0.25, 0.1])
    assert matcher(quality).tolist() == [0, -1, -1]
    torchvision = detection_matcher()(0.7, 0.3, allow_low_quality_matches=True)
    assert torchvision(quality).tolist() == [0, 1, -1], "torchvision has no floor"
    # A ground truth no prediction touches: torchvision matches every prediction at IoU 0 to it.
    untouched = iou_matrix([0.8, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert matcher(untouched).tolist() == [0, -1, -1]
    assert torchvision(untouched).tolist() == [0, 0, 0]
    # Two ground truths whose best prediction is the same one: the later claims it (official loop),
    # even where the prediction overlaps the earlier more; torchvision keeps its own best.
    shared = iou_matrix([0.6, 0.1], [0.5, 0.2])
    assert matcher(shared).tolist() == [1, -1]
    assert torchvision(shared).tolist() == [0, -1]


def test_rpn_ignores_anchors_crossing_the_border_and_matches_among_the_others() -> None:
    net = build_network(TINY_DETECTION, "v2p", 3, TINY)
    anchors = torch.tensor(
        [
            [-4.0, 10.0, 28.0, 42.0],  # crosses the left border: the gt's best anchor, yet ignored
            [8.0, 10.0, 40.0, 42.0],  # inside, IoU 0.6 with the gt: its low-quality match
            [40.0, 40.0, 64.0, 64.0],  # inside, touching the corner: a negative
            [40.0, 40.0, 65.0, 64.0],  # one pixel over the right border
        ]
    )
    target = {"boxes": torch.tensor([[0.0, 10.0, 32.0, 42.0]]), "labels": torch.tensor([1])}
    net.rpn.train()
    features = {"0": torch.zeros(1, 16, 16, 16)}
    net.rpn.anchor_generator.forward = lambda images, maps: [anchors]  # type: ignore[method-assign]
    seen = {}
    assign = net.rpn.assign_targets_to_anchors

    def spy(anchor_list: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]) -> tuple:
        seen["result"] = assign(anchor_list, targets)
        return seen["result"]

    net.rpn.assign_targets_to_anchors = spy  # type: ignore[method-assign]
    net.rpn.head.forward = lambda maps: ([torch.zeros(1, 4, 1, 1)], [torch.zeros(1, 16, 1, 1)])  # type: ignore[assignment]
    net.rpn(ImageList(torch.zeros(1, 3, 64, 64), [(64, 64)]), features, [target])
    (labels,), (matched,) = seen["result"]
    assert labels.tolist() == [-1.0, 1.0, 0.0, -1.0]
    assert matched[1].tolist() == target["boxes"][0].tolist()
    net.rpn.allowed_border = -1  # torchvision's: every anchor takes part
    net.rpn(ImageList(torch.zeros(1, 3, 64, 64), [(64, 64)]), features, [target])
    assert seen["result"][0][0].tolist() == [1.0, -1.0, 0.0, 0.0]  # anchor 0 (IoU 0.78) positive


def test_roi_box_loss_uses_beta_and_equals_torchvisions_at_one_ninth() -> None:
    torch.manual_seed(0)
    net = build_network(TINY_DETECTION, "v2p", 3, TINY).train()
    heads = net.roi_heads
    features = {str(k): torch.randn(1, 16, 64 // 2**k, 64 // 2**k) for k in range(4)}
    proposals = [torch.tensor([[4.0, 4.0, 30.0, 34.0], [8.0, 2.0, 40.0, 28.0], [30.0, 30.0, 60.0, 60.0]])]
    targets = [{"boxes": torch.tensor([[6.0, 5.0, 33.0, 30.0]]), "labels": torch.tensor([2])}]

    def box_loss(run: object) -> torch.Tensor:
        torch.manual_seed(1)  # the same sampled RoIs
        return run(features, [p.clone() for p in proposals], [(64, 64)], targets)[1]["loss_box_reg"]

    ours = box_loss(heads)
    heads.box_loss_beta = 1 / 9
    torch.testing.assert_close(box_loss(heads), box_loss(lambda *a: RoIHeads.forward(heads, *a)))
    assert ours.item() != pytest.approx(box_loss(heads).item()), "beta 1.0 is not torchvision's 1/9"


def test_resized_size_rounds_half_up_as_mmcv() -> None:
    """99 x 151 to shorter side 64: scale 64 / 99, width 97.6: mmcv's int(w * s + 0.5) gives 98,
    torchvision's floor 97."""
    image = torch.rand(3, 99, 151)
    box = {"boxes": torch.tensor([[10.0, 20.0, 151.0, 99.0]]), "labels": torch.tensor([1])}
    sizes = {}
    for rounding in ("round", "floor"):
        detector = DetectorConfig(**{**vars(TINY), "max_size": 200, "resize_rounding": rounding})
        net = build_network(TINY_DETECTION, "v2p", 3, detector)
        batch, resized = net.transform([image], [dict(box)])
        sizes[rounding] = batch.image_sizes[0]
        assert batch.tensors.shape[-2:] == (64, 128)
    assert sizes == {"round": (64, 98), "floor": (64, 97)}
    assert resized[0]["boxes"][0, 2:].tolist() == pytest.approx([97.0, 64.0])


def test_norm_eval_and_frozen_stages_keep_the_backbone_as_loaded() -> None:
    detector = DetectorConfig(**{**vars(TINY), "frozen_stages": 1})
    net = build_network(TINY_DETECTION, "v2p", 3, detector).train()
    norms = [m for m in net.backbone.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    before = [m.running_mean.clone() for m in norms]
    net.backbone(torch.randn(2, 3, 64, 64))
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before, norms, strict=True))
    hrnet = net.backbone.backbone
    frozen = [*hrnet.conv1.parameters(), *hrnet.bn1.parameters(), *hrnet.layer1.parameters()]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in hrnet.stage2.parameters())
    learning = build_network(TINY_DETECTION, "v2p", 3, DetectorConfig(**{**vars(TINY), "norm_eval": False}))
    assert all(m.training for m in learning.train().modules() if isinstance(m, nn.BatchNorm2d))
    with pytest.raises(InputError, match="detector.frozen_stages=5"):
        DetectorConfig(frozen_stages=5).check()


def test_neck_and_box_head_are_initialised_as_the_official_code() -> None:
    torch.manual_seed(0)
    detector = DetectorConfig(**{**vars(TINY), "fpn_channels": 64, "box_head_width": 256})
    net: HRNetFasterRCNN = build_network(TINY_DETECTION, "v2p", 80, detector)
    predictor, box_head = net.roi_heads.box_predictor, net.roi_heads.box_head
    assert predictor.cls_score.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert predictor.bbox_pred.weight.std().item() == pytest.approx(0.001, rel=0.05)
    fan_in, fan_out = box_head.fc6.in_features, box_head.fc6.out_features
    bound = math.sqrt(6 / (fan_in + fan_out))  # xavier_uniform_
    assert box_head.fc6.weight.abs().max().item() == pytest.approx(bound, rel=0.01)
    conv = net.backbone.head.fpn_convs[0]
    assert conv.weight.std().item() == pytest.approx(1 / math.sqrt(64 * 9), rel=0.05)  # kaiming_normal_(a=1)
    layers = (predictor.cls_score, predictor.bbox_pred, box_head.fc6, box_head.fc7, conv)
    assert all(not layer.bias.any() for layer in layers)
    plain = build_network(TINY_DETECTION, "v2p", 80, DetectorConfig(**{**vars(detector), "init": "torch"}))
    assert plain.roi_heads.box_predictor.cls_score.weight.std().item() > 0.02


def test_detector_knobs_are_typed_flags() -> None:
    task = DetectionTask(
        TINY_DETECTION, num_classes=2, detector=DetectorConfig(**{**vars(TINY), "box_loss_beta": 0.5})
    )
    assert task.net.roi_heads.box_loss_beta == 0.5
    config = parse_fit_args(
        [
            "--config",
            str(CONFIGS / "quickstart.yaml"),
            "--model.detector.rpn_allowed_border=-1",
            "--model.detector.neck_upsample_mode=nearest",
            "--model.detector.rpn_low_quality_min_iou=0",
        ]
    )
    detector = config.model.init_args.detector
    assert (detector.rpn_allowed_border, detector.neck_upsample_mode) == (-1, "nearest")
    assert detector.rpn_low_quality_min_iou == 0.0
    for bad, match in (
        ({"box_loss_beta": 0.0}, "box_loss_beta=0.0"),
        ({"anchor_center_offset": 1.0}, "offset"),
    ):
        with pytest.raises(InputError, match=match):
            DetectorConfig(**bad).check()


def test_a_training_step_runs_under_bf16_autocast_with_float32_anchors() -> None:
    """`--trainer.precision=bf16-mixed`: the features are bf16, the anchors stay float32 pixels."""
    torch.manual_seed(0)
    net = build_network(TINY_DETECTION, "v2p", 3, TINY).train()
    images = [torch.rand(3, 64, 80), torch.rand(3, 70, 64)]
    targets = [
        {"boxes": torch.tensor([[4.0, 6.0, 40.0, 50.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[10.0, 12.0, 30.0, 60.0]]), "labels": torch.tensor([2])},
    ]
    seen: list[torch.dtype] = []
    net.rpn.anchor_generator.register_forward_hook(lambda module, args, out: seen.append(out[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = net(images, targets)
    assert seen == [torch.float32]
    assert all(torch.isfinite(loss) for loss in losses.values())
