"""Instance segmentation parts: COCO-format masks (polygon, compressed and uncompressed RLE, crowds),
bad annotations named by file and id, the flip of image, boxes and masks together, the synthetic
masks, Mask R-CNN's outputs and cost, the results json (RLE, COCO image ids) and the ONNX part."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers import TINY_DETECTION
from PIL import Image
from pycocotools import mask as coco_mask

from hrnet_lit.cli import main
from hrnet_lit.detection.detector import DensePart
from hrnet_lit.errors import InputError
from hrnet_lit.instance.data import (
    CocoFormatInstanceDataModule,
    CocoInstances,
    InstanceSample,
    InstanceTransform,
    SyntheticInstances,
)
from hrnet_lit.instance.detector import MaskRCNNConfig
from hrnet_lit.instance.network import build_network
from hrnet_lit.instance.task import InstanceTask
from hrnet_lit.instance.writer import ImageIds, encode_masks, results
from hrnet_lit.models import count_macs
from hrnet_lit.tools.fit_config import config_network, parse_fit_args

TINY = MaskRCNNConfig(
    min_size=64,
    max_size=64,
    fpn_channels=16,
    box_head_width=32,
    rpn_post_nms_top_n_train=50,
    rpn_post_nms_top_n_test=50,
    mask_head_width=8,
    mask_head_convs=2,
)
WIDTH, HEIGHT = 40, 30


def rle(mask: np.ndarray, compressed: bool) -> dict[str, Any]:
    """COCO's RLE of a (H, W) mask: compressed (a string) or uncompressed (a list of run lengths)."""
    if compressed:
        code = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        return {"size": list(mask.shape), "counts": code["counts"].decode("ascii")}
    runs, value, count = [], 0, 0
    for pixel in mask.T.reshape(-1):  # column-major, starting with a run of zeros
        if pixel != value:
            runs.append(count)
            value, count = pixel, 0
        count += 1
    return {"size": list(mask.shape), "counts": [*runs, count]}


def block(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def write_coco(root: Path, annotations: list[dict[str, Any]]) -> tuple[Path, Path]:
    """`root/images/000000000042.png` (WIDTH x HEIGHT) and `root/instances.json`."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(images / "000000000042.png")
    data = {
        "images": [{"id": 42, "file_name": "000000000042.png", "width": WIDTH, "height": HEIGHT}],
        "annotations": annotations,
        "categories": [{"id": 5, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return images, path


def annotation(ann_id: int, segmentation: Any, bbox: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "id": ann_id,
        "image_id": 42,
        "category_id": 5,
        "bbox": bbox,
        "segmentation": segmentation,
        **extra,
    }


def test_polygon_and_rle_masks_decode_to_their_pixels(tmp_path: Path) -> None:
    # A polygon around pixels 2..9 x 3..7 (COCO polygons run along pixel edges), an RLE of each kind.
    polygon = [[2, 3, 10, 3, 10, 8, 2, 8]]
    anns = [
        annotation(1, polygon, [2, 3, 8, 5]),
        annotation(2, rle(block(10, 20, 20, 30), compressed=True), [20, 10, 10, 10], category_id=2),
        annotation(3, rle(block(22, 28, 5, 35), compressed=False), [5, 22, 30, 6], iscrowd=1),
    ]
    images, path = write_coco(tmp_path, anns)
    data = CocoInstances(images, path)
    sample = data.raw(0)
    assert sample.masks.shape == (3, HEIGHT, WIDTH) and sample.masks.dtype == np.uint8
    drawn = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygon, HEIGHT, WIDTH)))
    np.testing.assert_array_equal(sample.masks[0], drawn)  # COCO's own annToMask
    assert drawn[3:8, 2:10].all() and drawn.sum() < 8 * 5 + 8 + 5 + 1  # the polygon, at most its edge
    np.testing.assert_array_equal(sample.masks[1], block(10, 20, 20, 30))
    np.testing.assert_array_equal(sample.masks[2], block(22, 28, 5, 35))
    assert sample.labels.tolist() == [2, 1, 2] and sample.iscrowd.tolist() == [0, 0, 1]  # ids 2, 5
    image, target = CocoInstances(images, path, keep_crowd=False)[0]
    assert target["masks"].shape == (2, HEIGHT, WIDTH), "the crowd's mask leaves with its box"
    assert image.shape == (3, HEIGHT, WIDTH) and target["labels"].tolist() == [2, 1]


def test_flip_moves_image_boxes_and_masks_together() -> None:
    mask = block(5, 15, 2, 12)
    image = np.stack([mask * 255] * 3, axis=-1).astype(np.uint8)
    sample = InstanceSample(
        image, np.array([[2.0, 5, 12, 15]]), np.array([1]), np.array([0]), np.array([100.0]), 0, mask[None]
    )
    flipped, target = InstanceTransform(flip_prob=1.0)(sample)
    assert target["boxes"].tolist() == [[WIDTH - 12.0, 5.0, WIDTH - 2.0, 15.0]]
    np.testing.assert_array_equal(target["masks"][0].numpy(), mask[:, ::-1])
    torch.testing.assert_close(flipped[0] > 0.5, target["masks"][0].bool())


def test_synthetic_masks_are_the_shapes_with_their_tight_boxes() -> None:
    data = SyntheticInstances(6, (64, 80), seed=3)
    for index in range(len(data)):
        sample = data.raw(index)
        assert len(sample.masks) == len(sample.boxes) >= 1
        for mask, box, area in zip(sample.masks, sample.boxes, sample.area, strict=True):
            rows, cols = np.nonzero(mask)
            assert [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1] == box.tolist()
            assert area == mask.sum()
        assert (sample.masks.sum(axis=0) <= 1).all(), "shapes never overlap"
    np.testing.assert_array_equal(data.raw(2).masks, SyntheticInstances(6, (64, 80), seed=3).raw(2).masks)


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        (None, "expected a list of polygons or an RLE"),
        ([[1, 2, 3]], "odd number of coordinates"),
        ({"size": [10, 10], "counts": "abc"}, "RLE size [10, 10] is not the image's"),
        ({"size": [HEIGHT, WIDTH], "counts": [5, 5]}, "uncompressed RLE counts sum to 10"),
    ],
)
def test_a_malformed_segmentation_is_refused_naming_file_and_annotation(
    tmp_path: Path, segmentation: Any, message: str
) -> None:
    images, path = write_coco(tmp_path, [annotation(77, segmentation, [1, 1, 5, 5])])
    with pytest.raises(InputError, match="annotation id 77") as error:
        CocoInstances(images, path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_short_polygons_and_bad_boxes_are_reported_then_dropped_or_refused(tmp_path: Path) -> None:
    anns = [
        annotation(31, [[1, 1, 5, 5]], [1, 1, 4, 4]),  # two points: encloses nothing
        annotation(32, [[1, 1, 9, 1, 9, 9]], [100, 100, 5, 5]),  # box outside the image
        annotation(33, [[1, 1, 9, 1, 9, 9]], [1, 1, 8, 8]),
    ]
    images, path = write_coco(tmp_path, anns)
    with pytest.raises(InputError) as error:
        CocoInstances(images, path)
    text = str(error.value)
    assert "2 bad annotation(s)" in text and "000000000042.png (annotation id 31)" in text
    assert "annotation id 32" in text and "data.bad_boxes=drop" in text
    with pytest.warns(UserWarning, match="annotation id 31"):
        kept = CocoInstances(images, path, bad_boxes="drop")
    assert len(kept.raw(0).masks) == 1
    data = CocoFormatInstanceDataModule(str(images), str(path), str(images), str(path), num_workers=0)
    assert data.kind == "instance" and data.task_args["class_names"] == ["dog", "cat"]


def test_mask_rcnn_trains_on_masks_and_returns_one_mask_per_detection() -> None:
    torch.manual_seed(0)
    net = build_network(TINY_DETECTION, "v2p", 2, TINY)
    assert net.roi_heads.mask_roi_pool.output_size == (14, 14)
    assert net.roi_heads.mask_roi_pool.sampling_ratio == 2
    assert (
        len(net.roi_heads.mask_head) == 2 and net.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 3
    )
    images = [torch.rand(3, 48, 64), torch.rand(3, 64, 56)]
    targets = [
        {
            "boxes": torch.tensor([[4.0, 4, 30, 40]]),
            "labels": torch.tensor([1]),
            "masks": torch.ones(1, 48, 64),
        },
        {
            "boxes": torch.zeros(0, 4),
            "labels": torch.zeros(0, dtype=torch.int64),
            "masks": torch.zeros(0, 64, 56),
        },
    ]
    targets[0]["masks"] = targets[0]["masks"].to(torch.uint8)
    targets[1]["masks"] = targets[1]["masks"].to(torch.uint8)
    losses = net.train()(images, targets)
    assert set(losses) == {
        "loss_classifier",
        "loss_box_reg",
        "loss_objectness",
        "loss_rpn_box_reg",
        "loss_mask",
    }
    assert all(torch.isfinite(v) for v in losses.values())
    net.roi_heads.score_thresh = 0.0  # an untrained net: keep whatever it finds
    found = net.eval()(images)
    for image, one in zip(images, found, strict=True):
        count = len(one["boxes"])
        assert one["masks"].shape == (count, 1, *image.shape[-2:]), "pasted at the image's own size"
        assert ((one["masks"] >= 0) & (one["masks"] <= 1)).all()


def test_mask_branch_is_the_official_one_by_default() -> None:
    net = build_network(TINY_DETECTION, "v2p", 80)
    heads = net.roi_heads
    assert heads.mask_roi_pool.featmap_names == ["0", "1", "2", "3"], "the four finest levels"
    assert [m[0].out_channels for m in heads.mask_head] == [256] * 4
    assert heads.mask_predictor.conv5_mask.stride == (2, 2), "14 x 14 RoIs -> 28 x 28 masks"
    assert heads.mask_predictor.mask_fcn_logits.out_channels == 81


def test_the_cost_counts_the_mask_branch_per_kept_detection() -> None:
    def macs(detections: int) -> int:
        config = dataclasses.replace(TINY, box_detections_per_img=detections)
        with torch.device("meta"):
            net = build_network(TINY_DETECTION, "v2p", 2, config)
        return count_macs(net, (64, 64))

    # Per detection: two 3x3 convs at 14 x 14 (16 -> 8, 8 -> 8) and the 1x1 logits at 28 x 28 (8 -> 3);
    # `count_macs` counts convs and linears, not the transposed conv.
    per_detection = 196 * 9 * (16 * 8 + 8 * 8) + 784 * 8 * 3
    assert macs(20) - macs(10) == 10 * per_detection


def test_results_are_coco_rle_with_coco_image_ids() -> None:
    ids = ImageIds()
    assert ids("000000397133.jpg") == 397133 and ids("COCO_val2014_000000000042.jpg") == 42
    assert ids("cat.png") == 397134 and ids("000000397133.jpg") == 397133, "one id per file"
    masks = torch.zeros(2, 20, 30, dtype=torch.bool)
    masks[0, 2:8, 3:9], masks[1, 10:, 20:] = True, True
    found = {
        "boxes": torch.tensor([[3.0, 2, 9, 8], [20, 10, 30, 20]]),
        "labels": torch.tensor([2, 1]),
        "scores": torch.tensor([0.9, 0.3]),
    }
    rows = results(found, masks, 7, "x.png", [5, 9])
    assert [r["category_id"] for r in rows] == [9, 5] and rows[0]["bbox"] == [3.0, 2.0, 6.0, 6.0]
    json.dumps(rows)  # plain json
    for row, mask in zip(rows, masks, strict=True):
        assert row["segmentation"]["size"] == [20, 30]
        np.testing.assert_array_equal(coco_mask.decode(row["segmentation"]), mask.numpy())
    assert encode_masks(torch.zeros(0, 5, 5, dtype=torch.bool)) == []


def test_onnx_part_is_the_dense_pyramid() -> None:
    net = build_network(TINY_DETECTION, "v2p", 2, TINY)
    part, note = net.onnx_part()
    assert isinstance(part, DensePart) and "Mask R-CNN covers its dense part" in note
    assert "mask heads" in note and "multiple of 32" in note
    with torch.no_grad():
        levels = part.eval()(torch.rand(1, 3, 64, 96))
    sizes = [(16, 24), (8, 12), (4, 6), (2, 3), (1, 1)]  # HRFPN pools round down, as the official
    assert [tuple(f.shape[-2:]) for f in levels] == sizes


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model.mask_thresh=1.0"], "model.mask_thresh=1.0 must be in (0, 1)"),
        (["--model.detector.mask_head_convs=0"], "detector.mask_head_convs"),
        ([], "annotation id 77"),
    ],
)
def test_bad_input_stops_fit_before_a_step_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    images, path = write_coco(tmp_path, [annotation(77, {"size": [1, 1], "counts": "0"}, [1, 1, 5, 5])])
    data = [
        f"--data.{split}_{kind}={where}"
        for split in ("train", "val")
        for kind, where in (("images", images), ("annotations", path))
    ]
    argv = [
        "fit",
        "--config=configs/instance/quickstart.yaml",
        "--data=hrnet_lit.instance.data.CocoFormatInstanceDataModule",
        *data,
        "--data.num_workers=0",
        "--trainer.logger=false",
        f"--trainer.default_root_dir={tmp_path}",
        *flags,
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.parametrize(
    ("width", "schedule"), [(18, "1x"), (18, "2x"), (32, "1x"), (32, "2x")], ids=lambda v: str(v)
)
def test_coco_recipes_are_mmdetections_mask_rcnn_hrnetv2p(width: int, schedule: str) -> None:
    """mask_rcnn_hrnetv2p_w{18,32}_{1x,2x}_coco: the schedule, and the mask branch its network has."""
    config = parse_fit_args([f"--config=configs/instance/coco_w{width}_{schedule}.yaml"])
    task, arch, data = config_network(config)
    args = config.model.init_args
    epochs, milestones = {"1x": (12, [8, 11]), "2x": (24, [16, 22])}[schedule]
    assert task.__name__ == "InstanceTask" and type(data).__name__ == "CocoInstanceDataModule"
    assert config.trainer.max_epochs == epochs and args.decay_milestones == milestones
    assert (args.optimizer, args.lr, args.momentum, args.weight_decay) == ("momentum", 0.02, 0.9, 0.0001)
    assert (args.warmup_steps, args.mask_thresh, config.trainer.gradient_clip_val) == (500, 0.5, 35)
    assert arch["backbone"].preset == f"w{width}" and arch["num_classes"] == 80
    assert arch["backbone"].upsample_mode == "nearest" and arch["detector"].norm_eval  # the official
    with torch.device("meta"):
        net = task.build_network(**arch)
    heads = net.roi_heads
    assert heads.mask_roi_pool.output_size == (14, 14) and heads.mask_roi_pool.sampling_ratio == 2
    assert [m[0].out_channels for m in heads.mask_head] == [256] * 4
    assert (net.transform.min_size, net.transform.max_size) == ((800,), 1333)


def test_validation_panels_blend_truth_and_detected_masks() -> None:
    """input | ground-truth masks and boxes | detections scoring at least draw_score_thresh."""
    data = SyntheticInstances(1, (64, 80))
    pixels, target = data[0]
    task = InstanceTask(TINY_DETECTION, num_classes=3, detector=TINY, class_names=list(data.classes))
    ([image], _) = task.on_after_batch_transfer(([pixels], [target]), 0)  # as the trainer hands it
    plain = pixels.permute(1, 2, 0).numpy()
    # The first shape's pixels away from its outline, where no box edge or label is drawn.
    inside = (torch.nn.functional.max_pool2d(-target["masks"][:1].float(), 9, 1, 4)[0] < 0).numpy()
    for score, drawn in ((0.9, True), (0.4, False)):  # draw_score_thresh: 0.5
        scores = torch.full((len(target["boxes"]),), score)
        found = {"boxes": target["boxes"], "labels": target["labels"], "masks": target["masks"].bool()}
        task.forward = lambda shown, found=found, scores=scores: [{**found, "scores": scores}]  # type: ignore[method-assign]
        (panel,) = task.validation_panels(([image], [target]), 1)
        assert panel.shape == (64, 240, 3)
        np.testing.assert_array_equal(panel[:, :80], plain)
        assert (panel[:, 80:160][inside] != plain[inside]).any(), "the true mask is blended in"
        assert (panel[:, 160:][inside] != plain[inside]).any() == drawn, score
