"""Detection parts: HRFPN's size, COCO-format data (flip, resize, bad boxes, crowds), COCO's mAP, and
one training step on an image without boxes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from helpers import TINY_DETECTION
from PIL import Image

from hrnet_lit.detection.data import (
    CocoDetection,
    CocoFormatDataModule,
    DetectionTransform,
    RawSample,
    SyntheticBoxes,
)
from hrnet_lit.detection.data.transforms import unit_float
from hrnet_lit.detection.detector import DetectorConfig
from hrnet_lit.detection.network import build_network as build_detector
from hrnet_lit.detection.task import DetectionTask
from hrnet_lit.errors import InputError
from hrnet_lit.models import V2pHead

TINY_DETECTOR = DetectorConfig(
    min_size=64, max_size=96, fpn_channels=16, box_head_width=32, rpn_post_nms_top_n_train=50
)

# Two images with boxes (one of them a crowd), one without; category ids with a gap, as COCO's.
SIZES = {1: (80, 64), 2: (64, 64), 3: (96, 64)}  # image id -> (width, height)
ANNOTATIONS = [
    {"id": 11, "image_id": 1, "category_id": 3, "bbox": [4, 6, 30, 20], "area": 500.0, "iscrowd": 0},
    {"id": 12, "image_id": 1, "category_id": 7, "bbox": [40, 30, 36, 30], "area": 900.0, "iscrowd": 0},
    {"id": 13, "image_id": 2, "category_id": 7, "bbox": [10, 10, 40, 44], "area": 1500.0, "iscrowd": 0},
    {"id": 14, "image_id": 2, "category_id": 3, "bbox": [50, 0, 14, 14], "area": 150.0, "iscrowd": 1},
]


def write_coco(root: Path, annotations: list[dict[str, Any]] = ANNOTATIONS) -> tuple[Path, Path]:
    """A small COCO tree: `root/images/*.png` and `root/instances.json`."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for image_id, (width, height) in SIZES.items():
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{image_id:04d}.png")
    data = {
        "images": [
            {"id": i, "file_name": f"{i:04d}.png", "width": w, "height": h} for i, (w, h) in SIZES.items()
        ],
        "annotations": annotations,
        "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
    }
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return images, path


def xyxy(bbox: list[float]) -> list[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def test_hrfpn_parameters_follow_the_formula() -> None:
    """V2 concatenation of 15C channels -> 1x1 conv to 256 (+ bias) -> five 3x3 convs 256 -> 256 (+ bias)."""

    def formula(c: int, out: int = 256, levels: int = 5) -> int:
        return 15 * c * out + out + levels * (9 * out * out + out)

    for c, expected in ((18, 3_019_776), (32, 3_073_536), (48, 3_134_976)):
        head = V2pHead([c, 2 * c, 4 * c, 8 * c])
        assert sum(p.numel() for p in head.parameters()) == formula(c) == expected


def test_coco_json_labels_crowds_and_images_without_boxes(tmp_path: Path) -> None:
    images, path = write_coco(tmp_path)
    data = CocoDetection(images, path)
    assert data.classes == ("cat", "dog") and data.category_ids == (3, 7)  # id order, labels 1, 2
    first = data.raw(0)
    np.testing.assert_array_equal(first.boxes, [xyxy(ANNOTATIONS[0]["bbox"]), xyxy(ANNOTATIONS[1]["bbox"])])
    assert first.labels.tolist() == [1, 2] and first.area.tolist() == [500.0, 900.0]
    assert data.raw(1).iscrowd.tolist() == [0, 1]
    assert len(data.raw(2).boxes) == 0, "an image without annotations stays, as a negative"
    train = CocoDetection(images, path, keep_crowd=False)
    assert train[1][1]["labels"].tolist() == [2], "crowd boxes are no training targets"


def test_boxes_survive_flip_and_the_detectors_resize_exactly(tmp_path: Path) -> None:
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[5:25, 10:30] = 255  # the box [10, 5, 30, 25] is exactly the white pixels
    sample = RawSample(
        image, np.array([[10.0, 5, 30, 25]]), np.array([1]), np.array([0]), np.array([400.0]), 0
    )
    flipped, target = DetectionTransform(flip_prob=1.0)(sample)
    assert target["boxes"].tolist() == [[30.0, 5.0, 50.0, 25.0]]  # x -> 60 - x
    rows, cols = torch.nonzero(flipped[0] > 0.5, as_tuple=True)
    assert [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1] == [30, 5, 50, 25]
    pixels, _ = DetectionTransform()(sample)
    assert pixels.dtype == torch.uint8 and torch.equal(pixels, torch.from_numpy(image).permute(2, 0, 1))
    (plain,) = unit_float([pixels])  # on the task's device
    assert plain.dtype == torch.float32 and plain.max() == 1.0, "0-1 floats: the detector normalises"

    net = build_detector(TINY_DETECTION, "v2p", 2, TINY_DETECTOR).eval()
    batch, resized = net.transform([plain], [{k: v.clone() for k, v in target.items()}])
    assert batch.image_sizes == [(64, 96)]  # shorter side 40 -> 64: scale 1.6, longer 96 <= max_size
    torch.testing.assert_close(resized[0]["boxes"], target["boxes"] * 1.6)
    back = net.transform.postprocess([{"boxes": resized[0]["boxes"]}], batch.image_sizes, [(40, 60)])
    torch.testing.assert_close(back[0]["boxes"], target["boxes"])
    assert batch.tensors.shape[-2:] == (64, 96), "padded to a multiple of 32, as the official"
    expected = (plain[0, 0, 0] - 0.485) / 0.229  # normalised once, by the detector
    torch.testing.assert_close(batch.tensors[0, 0, 0, 0], expected)


def test_bad_boxes_are_reported_with_file_and_annotation_id(tmp_path: Path) -> None:
    bad = [
        {"id": 21, "image_id": 1, "category_id": 3, "bbox": [5, 5, 0, 10]},
        {"id": 22, "image_id": 3, "category_id": 7, "bbox": [120, 10, 10, 10]},
    ]
    images, path = write_coco(tmp_path, ANNOTATIONS + bad)
    with pytest.raises(InputError) as refused:
        CocoDetection(images, path, bad_boxes="error")
    message = str(refused.value)
    assert "0001.png (annotation id 21)" in message and "zero area" in message
    assert "0003.png (annotation id 22)" in message and "outside the 96x64 image" in message
    assert "data.bad_boxes=drop" in message
    with pytest.warns(UserWarning, match=r"annotation id 22"):
        dropped = CocoDetection(images, path, bad_boxes="drop")
    assert len(dropped.raw(0).boxes) == 2 and len(dropped.raw(2).boxes) == 0


def test_cocoformat_module_checks_categories_and_gives_task_args(tmp_path: Path) -> None:
    images, path = write_coco(tmp_path)
    data = CocoFormatDataModule(str(images), str(path), str(images), str(path), batch_size=2, num_workers=0)
    assert data.task_args == {"num_classes": 2, "class_names": ["cat", "dog"], "category_ids": [3, 7]}
    data.setup("fit")
    images_batch, targets = next(iter(data.val_dataloader()))
    assert [tuple(i.shape[-2:]) for i in images_batch] == [(64, 80), (64, 64)], "own sizes, not resized"
    assert int(targets[0]["image_id"]) == 1


def coco_map(task: DetectionTask, data: CocoDetection, shift: float) -> dict[str, float]:
    """COCO mAP of predictions that copy the non-crowd ground truth, moved right by `shift` pixels,
    plus a confident detection on the crowd region (COCO ignores it)."""
    for k in range(len(data)):
        _, target = data[k]
        real = target["iscrowd"] == 0
        boxes = target["boxes"][real] + torch.tensor([shift, 0.0, shift, 0.0])
        labels = target["labels"][real]
        crowd = target["boxes"][~real]
        prediction = {
            "boxes": torch.cat([boxes, crowd]),
            "labels": torch.cat([labels, target["labels"][~real]]),
            "scores": torch.ones(len(boxes) + len(crowd)),
        }
        task.val_map.update([prediction], [{k: target[k] for k in ("boxes", "labels", "iscrowd", "area")}])
    values = task.val_map.compute()
    task.val_map.reset()
    return {k: float(values[k]) for k in ("map", "map_50", "map_75")}


def test_perfect_predictions_score_map_one_and_shifted_ones_lower(tmp_path: Path) -> None:
    images, path = write_coco(tmp_path)
    data = CocoDetection(images, path)
    task = DetectionTask(TINY_DETECTION, num_classes=2, detector=TINY_DETECTOR)
    assert coco_map(task, data, 0.0) == {"map": 1.0, "map_50": 1.0, "map_75": 1.0}
    shifted = coco_map(task, data, 6.0)
    assert shifted["map_50"] == 1.0 and shifted["map_75"] < 1.0 and shifted["map"] < 0.7


@pytest.mark.parametrize("head", ["v2p", "v1"])
def test_an_image_without_boxes_trains_a_step(head: str) -> None:
    torch.manual_seed(0)
    net = build_detector(TINY_DETECTION, head, 3, TINY_DETECTOR).train()
    features = net.backbone(torch.zeros(1, 3, 64, 64))
    assert list(features) == (["0", "1", "2", "3", "4"] if head == "v2p" else ["0"])
    assert net.rpn.anchor_generator.num_anchors_per_location() == ([3] * 5 if head == "v2p" else [15])
    pixels, target = SyntheticBoxes(1, (64, 64))[0]
    (image,) = unit_float([pixels])
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    before = [p.detach().clone() for p in net.parameters()]
    losses = net([image, torch.rand(3, 64, 64)], [{k: target[k] for k in ("boxes", "labels")}, empty])
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    loss = sum(losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    torch.optim.SGD(net.parameters(), lr=0.01).step()
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))

    alone = net([torch.rand(3, 64, 64)], [empty])
    assert alone["loss_box_reg"].item() == 0.0 and alone["loss_objectness"].item() > 0.0, "negatives only"


def test_synthetic_boxes_are_deterministic_and_tight() -> None:
    data = SyntheticBoxes(4, (96, 96), seed=5)
    a, b = data.raw(2), SyntheticBoxes(4, (96, 96), seed=5).raw(2)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.image, SyntheticBoxes(4, (96, 96), seed=6).raw(2).image)
    for k in range(4):
        sample = data.raw(k)
        assert 1 <= len(sample.boxes) <= 4 and set(sample.labels.tolist()) <= {1, 2, 3}
        assert (sample.boxes[:, :2] >= 0).all() and (sample.boxes[:, 2:] <= 96).all()
        assert (
            sample.area
            <= (sample.boxes[:, 2] - sample.boxes[:, 0]) * (sample.boxes[:, 3] - sample.boxes[:, 1])
        ).all()


def test_official_schedule_warms_up_by_updates_and_decays_at_epochs_8_and_11() -> None:
    """lr 0.02 from a third over 500 updates, x0.1 at the first update of epochs 8 and 11."""
    task = DetectionTask(
        TINY_DETECTION,
        num_classes=2,
        detector=TINY_DETECTOR,
        lr=0.02,
        scheduler="multistep",
        decay_milestones=[8, 11],
        warmup_steps=500,
    )
    task._trainer = SimpleNamespace(max_epochs=12, estimated_stepping_batches=12 * 1000)
    scheduler = task.configure_optimizers()["lr_scheduler"]["scheduler"]

    def lr(update: int) -> float:
        scheduler.step_update(num_updates=update)
        return scheduler.optimizer.param_groups[0]["lr"]

    assert lr(0) == pytest.approx(0.02 / 3) and lr(250) == pytest.approx(0.02 * 2 / 3)
    assert lr(500) == pytest.approx(0.02) and lr(7999) == pytest.approx(0.02)
    assert lr(8000) == pytest.approx(0.002) and lr(11000) == pytest.approx(0.0002)


def test_validation_panels_draw_truth_and_detections() -> None:
    """input | ground-truth boxes | detections scoring at least draw_score_thresh, at the image size."""
    data = SyntheticBoxes(2, (64, 80))
    pixels, targets = (list(part) for part in zip(*(data[k] for k in range(2)), strict=True))
    task = DetectionTask(
        TINY_DETECTION, num_classes=3, detector=TINY_DETECTOR, class_names=list(data.classes)
    )
    task.eval()
    images, targets = task.on_after_batch_transfer((pixels, targets), 0)  # as the trainer hands them
    with torch.no_grad():
        (panel,) = task.validation_panels((images, targets), 1)  # the network's own detections
    assert panel.shape == (64, 3 * 80, 3) and panel.dtype == np.uint8
    plain = pixels[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(panel[:, :80], plain)
    assert not np.array_equal(panel[:, 80:160], plain), "the ground-truth boxes are drawn"

    def detections(shift: float, score: float) -> list[dict[str, torch.Tensor]]:
        return [
            {
                "boxes": t["boxes"] + shift,
                "labels": t["labels"],
                "scores": torch.full((len(t["boxes"]),), score),
            }
            for t in targets
        ]

    task.forward = lambda shown: detections(6.0, 0.9)[: len(shown)]  # type: ignore[method-assign]
    shifted = task.validation_panels((images, targets), 2)
    assert len(shifted) == 2 and all(p.shape == (64, 240, 3) for p in shifted)
    assert all(not np.array_equal(p[:, 160:], p[:, 80:160]) for p in shifted), "moved boxes drawn"
    task.forward = lambda shown: detections(0.0, 0.4)[: len(shown)]  # type: ignore[method-assign]
    (faint,) = task.validation_panels((images, targets), 1)
    np.testing.assert_array_equal(faint[:, 160:], plain)  # below draw_score_thresh: nothing drawn
