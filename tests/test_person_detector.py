"""Person detectors for top-down pose: a `hrnet-lit fit` detection checkpoint and torchvision's Faster
R-CNN weights, each from a file made here; the score threshold, an image with no person, wrong files;
and the whole pipeline through the real entry point (figures detector fit -> pose predict with it)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import lightning
import numpy as np
import pytest
import torch
import torchvision
from helpers import DETECTION_FIT, TINY_DETECTION, TINY_POSE
from PIL import Image
from test_predictors import save_checkpoint

import hrnet_lit
from hrnet_lit.cli import main
from hrnet_lit.common.normalize import image_tensor
from hrnet_lit.detection import DetectionTask
from hrnet_lit.detection.detector import DetectorConfig
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.pose import PoseTask
from hrnet_lit.pose.data import SyntheticPoseDataModule
from hrnet_lit.pose.data.synthetic import SyntheticPoses
from hrnet_lit.pose.person_detector import PersonDetector, load_person_detector

TINY_DETECTOR = {
    "min_size": 64,
    "max_size": 64,
    "fpn_channels": 16,
    "box_head_width": 32,
    "box_score_thresh": 0.0,
}


def detection_checkpoint(path: Path, class_names: list[str]) -> DetectionTask:
    """A checkpoint as `hrnet-lit fit` writes it (hyperparameters as plain data, the CLI's class path
    and instantiator) of a freshly initialised tiny detector; returns the task."""
    backbone = {**asdict(TINY_DETECTION), "num_blocks": [1, 1, 1, 1]}
    args = {"backbone": backbone, "head": "v2p", "num_classes": len(class_names), "class_names": class_names}
    torch.manual_seed(0)
    task = DetectionTask(
        **{**args, "backbone": type(TINY_DETECTION)(**backbone)}, detector=DetectorConfig(**TINY_DETECTOR)
    )
    hparams = {
        **args,
        "detector": TINY_DETECTOR,
        "_class_path": "hrnet_lit.detection.DetectionTask",
        "_instantiator": "lightning.pytorch.cli.instantiate_module",
    }
    checkpoint = {"state_dict": task.state_dict(), "hyper_parameters": hparams}
    torch.save({**checkpoint, "pytorch-lightning_version": lightning.__version__}, path)
    return task.eval()


def figure(index: int = 0) -> torch.Tensor:
    return image_tensor(np.array(SyntheticPoses(index + 1, (64, 64), 1).image(index)))


def test_a_fit_checkpoint_detects_its_person_class_above_image_thre(tmp_path: Path) -> None:
    path = tmp_path / "det.ckpt"
    task = detection_checkpoint(path, ["cat", "person"])
    image = figure()
    with torch.no_grad():
        (raw,) = task.net([image.float() / 255.0])
    persons = raw["labels"] == 2  # `person` is the second class: label 2
    assert persons.any() and (~persons).any()
    expected = torch.cat([raw["boxes"][persons], raw["scores"][persons, None]], dim=1)
    expected = expected[expected[:, 4].argsort(descending=True)]

    boxes = load_person_detector(path)(image)
    assert torch.allclose(boxes, expected, atol=1e-5)
    thre = float(expected[len(expected) // 2, 4])
    kept = load_person_detector(path, image_thre=thre)(image)
    assert 0 < len(kept) < len(boxes) and (kept[:, 4] >= thre).all()
    assert torch.allclose(kept, expected[expected[:, 4] >= thre], atol=1e-5)

    other = tmp_path / "shapes.ckpt"
    detection_checkpoint(other, ["disc", "triangle"])
    with pytest.raises(InputError, match=r"shapes\.ckpt.*no class is named 'person'"):
        load_person_detector(other)
    assert len(load_person_detector(other, person_label=2)(image)) > 0


def rows(boxes: torch.Tensor) -> torch.Tensor:
    """The boxes in one order (by x1, then y1), whatever order their tied scores gave them."""
    order = np.lexsort((boxes[:, 1].numpy(), boxes[:, 0].numpy()))
    return boxes[torch.as_tensor(order)]


def test_torchvision_weights_load_by_their_keys(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91, min_size=64, max_size=64
    ).eval()
    with torch.no_grad():  # random weights that call every proposal a person (COCO's category 1)
        model.roi_heads.box_predictor.cls_score.bias[1] = 20.0
    path = tmp_path / "fasterrcnn_resnet50_fpn_coco.pth"
    torch.save(model.state_dict(), path)

    image = figure()
    with torch.no_grad():
        (raw,) = model([image.float() / 255.0])
    detector = load_person_detector(path, min_size=64, max_size=64)
    assert type(detector.model) is type(model) and detector.person_label == 1
    boxes = detector(image)
    persons = raw["labels"] == 1
    assert len(boxes) == int(persons.sum()) > 0
    assert torch.allclose(rows(boxes[:, :4]), rows(raw["boxes"][persons]), atol=1e-4)  # scores all tie
    with pytest.raises(InputError, match=r"builder='yolo'"):
        load_person_detector(path, builder="yolo")


def test_wrong_files_are_named(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    with pytest.raises(InputError, match=r"notes\.txt.*not a PyTorch file"):
        load_person_detector(text)
    with pytest.raises(MissingInputError, match=r"absent\.pth"):
        load_person_detector(tmp_path / "absent.pth")
    classifier = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, classifier)
    with pytest.raises(InputError, match=r"resnet\.pth.*not of a torchvision detector"):
        load_person_detector(classifier)
    pose = tmp_path / "pose.ckpt"
    hparams = {"_class_path": "hrnet_lit.pose.PoseTask", "num_joints": 13}
    torch.save({"state_dict": {}, "hyper_parameters": hparams, "pytorch-lightning_version": "2.5"}, pose)
    with pytest.raises(InputError, match=r"pose\.ckpt.*PoseTask, not of a detector"):
        load_person_detector(pose)
    with pytest.raises(InputError, match=r"person_boxes.*person_detector.*one source"):
        SyntheticPoseDataModule(person_boxes="boxes.json", person_detector="det.ckpt")


def test_an_image_with_no_person_gets_no_skeleton(tmp_path: Path) -> None:
    """Predict with a detector that finds a person only on the bright image: the dark one is written
    without a skeleton and has no entry in keypoints.json."""

    def bright_only(images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        found = [float(im.mean()) > 0.5 for im in images]
        return [
            {
                "boxes": torch.tensor([[8.0, 4.0, 40.0, 60.0]] if f else []).reshape(-1, 4),
                "labels": torch.ones(int(f), dtype=torch.int64),
                "scores": torch.full((int(f),), 0.9),
            }
            for f in found
        ]

    folder = tmp_path / "images"
    folder.mkdir()
    for name, value in (("bright.png", 220), ("dark.png", 20)):
        Image.fromarray(np.full((64, 48, 3), value, dtype=np.uint8)).save(folder / name)
    data = SyntheticPoseDataModule(
        image_size=(64, 64),
        input_size=(64, 48),
        person_detector="stub",
        predict_dir=str(folder),
        num_workers=0,
    )
    data._detector = PersonDetector(bright_only, person_label=1)
    loader = data.predict_dataloader()
    items = loader.dataset.items
    assert [(k, None if b is None else b.tolist()) for k, b, _ in items] == [
        (0, [8.0, 4.0, 32.0, 56.0]),
        (1, None),
    ]

    task = PoseTask(backbone=TINY_POSE, **data.task_args).eval()
    out = tmp_path / "poses"
    out.mkdir()
    with torch.no_grad():
        for batch in loader:
            task.write_predictions(task.predict_step(batch, 0), out, None)
    task.finish_predictions(out)
    results = json.loads((out / "keypoints.json").read_text())
    assert [r["file_name"] for r in results] == ["bright.png"]
    with Image.open(out / "dark.png") as drawn:
        assert np.array_equal(np.array(drawn), np.array(Image.open(folder / "dark.png")))


def test_evaluation_crops_the_detector_boxes(tmp_path: Path) -> None:
    """validate / test crop the detector's boxes on each image instead of the ground truth's."""

    def one_box(images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        return [
            {
                "boxes": torch.tensor([[4.0, 6.0, 30.0, 50.0], [1.0, 1.0, 9.0, 9.0]]),
                "labels": torch.tensor([1, 2]),  # the second is no person
                "scores": torch.tensor([0.7, 0.9]),
            }
            for _ in images
        ]

    data = SyntheticPoseDataModule(
        num_val=2, image_size=(64, 64), input_size=(64, 48), person_detector="stub"
    )
    data._detector = PersonDetector(one_box, person_label=1)
    persons = data.build_dataset("val").persons
    assert data.uses_detections
    assert [(p.image_id, p.box.tolist(), p.score) for p in persons] == [
        (1, [4.0, 6.0, 26.0, 44.0], pytest.approx(0.7)),
        (2, [4.0, 6.0, 26.0, 44.0], pytest.approx(0.7)),
    ]
    data._detector = PersonDetector(one_box, person_label=1, image_thre=0.8, source="det.ckpt")
    data._sets.clear()
    with pytest.raises(InputError, match=r"person_detector: det\.ckpt.*nothing to score"):
        data.build_dataset("val")


@pytest.mark.slow
def test_figures_detector_feeds_pose_predict(tmp_path: Path) -> None:
    """Tiny figures-detector fit -> pose predict with it -> keypoints.json, whose persons sit in the
    crops of the detector's boxes, number at most the boxes of their image, and are the Python pose
    predictor's given the same detector file."""
    fit = [
        "--config=configs/detection/figures.yaml",
        *DETECTION_FIT,
        f"--trainer.logger.init_args.save_dir={tmp_path}",
    ]
    main(["fit", *fit, "--model.detector.box_detections_per_img=5"])
    (ckpt,) = tmp_path.glob("detection_figures/version_0/checkpoints/last.ckpt")

    folder = tmp_path / "images"
    folder.mkdir()
    for k in range(2):
        Image.fromarray(figure(k).permute(1, 2, 0).numpy()).save(folder / f"fig{k}.png")
    out = tmp_path / "poses"
    pose_ckpt = save_checkpoint("pose", tmp_path / "pose.ckpt")  # its codec: sigma 2, no DARK
    pose = [
        "--config=configs/pose/quickstart.yaml", f"--ckpt_path={pose_ckpt}", "--model.codec.dark=false",
        "--data.input_size=[64,48]",
    ]  # fmt: skip
    main([
        "predict", *pose, "--trainer.enable_progress_bar=false", f"--data.predict_dir={folder}",
        f"--trainer.logger.init_args.save_dir={tmp_path}", f"--data.person_detector={ckpt}",
        f"--predict_writer.output_dir={out}",
    ])  # fmt: skip
    results = json.loads((out / "keypoints.json").read_text())
    predictor = hrnet_lit.load(pose_ckpt, detector=str(ckpt))  # the Python predictor, the same files
    for k, found in enumerate(predictor.predict([folder / f"fig{k}.png" for k in range(2)])):
        boxes = np.concatenate([found.boxes[:, :2], found.boxes[:, 2:] - found.boxes[:, :2]], axis=1)
        mine = [
            (joints.reshape(-1).tolist(), float(score), box)
            for joints, score, box in zip(found.keypoints, found.scores, boxes.tolist(), strict=True)
        ]
        written = [
            (r["keypoints"], r["score"], r["bbox"]) for r in results if r["file_name"] == f"fig{k}.png"
        ]
        assert mine and mine == written, f"fig{k}.png: the predictor's persons are the ones predict wrote"
    detector = load_person_detector(ckpt)
    data = SyntheticPoseDataModule(input_size=(64, 48), person_detector=str(ckpt), predict_dir=str(folder))
    items = data.predict_dataloader().dataset.items
    crops = [(k, *box.tolist(), score) for k, box, score in items if box is not None]
    found = [
        (k, x1, y1, x2 - x1, y2 - y1, s)
        for k in range(2)
        for x1, y1, x2, y2, s in detector(figure(k)).tolist()
    ]
    assert found and len(crops) == len(found) and np.allclose(crops, found, atol=1e-4), "the detector's boxes"
    assert results
    for k in range(2):
        boxes = detector(figure(k))
        mine = [np.asarray(r["keypoints"]).reshape(-1, 3) for r in results if r["file_name"] == f"fig{k}.png"]
        assert len(mine) <= len(boxes)
        for joints in mine:  # the crop of a box: its centre +- 1.25 x its size (aspect-padded)
            inside = [
                (
                    np.abs(joints[:, :2] - (b[:2] + b[2:4]) / 2)
                    <= 1.25 * 4 / 3 * (b[2:4] - b[:2]).max() / 2 + 2
                ).all()
                for b in boxes.numpy()
            ]
            assert any(inside)
