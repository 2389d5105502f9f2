"""Data that used to give a silently wrong result: a 16-bit grey PNG read as white, pose `predict` drawing
a whole-image skeleton where the detector found nobody (and ignoring `image_thre`), and detection's
`detections.json` numbering COCO's images by a running index. The refusals: tests/test_bad_input_data.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from data_trees import changed, detection_json, detection_tree, pose_json, pose_tree, save_image
from helpers import TINY_DETECTION
from PIL import Image
from test_bad_input_data import pose_cli

from hrnet_lit.classification.data.folder import ClassificationFolder
from hrnet_lit.cli import main
from hrnet_lit.common.files import read_rgb
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.detection.data import CocoDetection, CocoFormatDataModule
from hrnet_lit.detection.data.datamodules import numbered
from hrnet_lit.detection.detector import DetectorConfig
from hrnet_lit.detection.predictor import DetectionResult
from hrnet_lit.detection.task import DetectionTask
from hrnet_lit.errors import InputError
from hrnet_lit.pose.data import COCOKeypointsDataModule, SyntheticPoseDataModule
from hrnet_lit.pose.metrics import COCOKeypointAP

# 0 ... 65535 across the image: PIL's own convert("RGB") clips every value above 255 to white.
RAMP = np.linspace(0, 65535, 32 * 48).round().astype(np.uint16).reshape(32, 48)
EXPECTED = np.round(RAMP * (255 / 65535)).astype(np.uint8)


def grey16(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RAMP).save(path)
    assert Image.open(path).mode.startswith("I")
    return path


def test_a_16_bit_grey_png_reads_scaled_not_clipped_in_every_reader(tmp_path: Path) -> None:
    path = grey16(tmp_path / "predict" / "deep.png")
    rgb = np.asarray(read_rgb(path))
    assert (
        rgb.shape == (32, 48, 3)
        and np.array_equal(rgb[..., 0], EXPECTED)
        and (rgb[..., 1] == rgb[..., 0]).all()
    )
    # The predict folder every task shares (uint8, normalised by the task).
    image, _ = ImageFolderPredict(tmp_path / "predict")[0]
    assert image.dtype == torch.uint8 and np.array_equal(image[0].numpy(), EXPECTED)
    # Classification's class folders.
    grey16(tmp_path / "cls" / "train" / "a" / "0.png")
    folder = ClassificationFolder(tmp_path / "cls" / "train", ("a",))
    assert np.array_equal(np.asarray(folder[0][0])[..., 0], EXPECTED)
    # Detection's COCO json images.
    data = changed(detection_json(1), "images", 0, width=48, height=32)
    paths = detection_tree(tmp_path / "det", train=data)
    grey16(Path(paths["train_images"]) / "000000000001.png")
    raw = CocoDetection(paths["train_images"], paths["train_annotations"]).raw(0)
    assert np.array_equal(raw.image[..., 0], EXPECTED)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"])
def test_every_mode_pil_writes_reads_as_8_bit_rgb(tmp_path: Path, mode: str) -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)).convert(
        mode
    )
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    image.save(path)
    rgb = read_rgb(path)
    assert rgb.mode == "RGB" and rgb.size == (8, 8)


def test_a_float_image_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "f.png"
    Image.fromarray(np.zeros((4, 4), np.float32)).save(path, "TIFF")
    with pytest.raises(InputError, match=r"f\.png.*float"):
        read_rgb(path)


def test_pose_predict_draws_only_on_images_with_a_detection_above_image_thre(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    for name in ("nobody.png", "person.png", "unsure.png"):
        save_image(folder / name, seed=len(name))
    boxes = [
        {"file_name": "person.png", "category_id": 1, "bbox": [8, 4, 30, 36], "score": 0.9},
        {"file_name": "unsure.png", "category_id": 1, "bbox": [8, 4, 30, 36], "score": 0.3},
    ]
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    written = tmp_path / "poses"
    main(
        pose_cli(
            "predict",
            tmp_path,
            pose_tree(tmp_path / "d"),
            f"--data.predict_dir={folder}",
            f"--data.person_boxes={tmp_path / 'boxes.json'}",
            "--data.image_thre=0.5",
            f"--predict_writer.output_dir={written}",
            "--model.in_vis_thre=-1.0",  # draw every joint of the untrained network
        )
    )
    results = json.loads((written / "keypoints.json").read_text())
    assert {r["file_name"] for r in results} == {"person.png"}
    assert sorted(p.name for p in written.glob("*.png")) == ["nobody.png", "person.png", "unsure.png"]
    for name in ("nobody.png", "unsure.png"):  # written as they are, with no skeleton
        assert np.array_equal(np.asarray(Image.open(written / name)), np.asarray(Image.open(folder / name)))
    assert not np.array_equal(
        np.asarray(Image.open(written / "person.png")), np.asarray(Image.open(folder / "person.png"))
    )


def test_detections_json_takes_coco_image_ids(tmp_path: Path) -> None:
    val = changed(
        changed(detection_json(3), "images", 0, file_name="kitchen.png"), "images", 1, file_name="yard.png"
    )
    paths = detection_tree(tmp_path, val=val)
    data = CocoFormatDataModule(**paths, batch_size=2, num_workers=0, predict_dir=paths["val_images"])
    (_, names, ids) = next(iter(data.predict_dataloader()))
    assert dict(zip([Path(n).name for n in names], ids, strict=True)) == {"kitchen.png": 3, "yard.png": 4}
    # Elsewhere: COCO's numeric file names give their number, other names the next free ones.
    folder = [tmp_path / n for n in ("000000000042.jpg", "b.png", "a.png")]
    assert numbered(sorted(folder)) == [42, 43, 44]

    task = DetectionTask(
        TINY_DETECTION, num_classes=2, category_ids=[3, 7], detector=DetectorConfig(min_size=32, max_size=32)
    )
    task.on_predict_start()
    found = DetectionResult(
        np.array([[1.0, 2.0, 11.0, 22.0]], np.float32),
        np.array([2]),
        np.array([0.8], np.float32),
        ["a", "b"],
        0.5,
    )
    prediction = {
        "results": [found],
        "images": [torch.zeros(3, 48, 64, dtype=torch.uint8)],
        "paths": names[:1],
        "image_ids": ids[:1],
    }
    task.write_predictions(prediction, tmp_path, None)
    task.finish_predictions(tmp_path)
    (result,) = json.loads((tmp_path / "detections.json").read_text())
    assert (
        result["image_id"] == ids[0]
        and result["category_id"] == 7
        and result["bbox"] == [1.0, 2.0, 10.0, 20.0]
    )


def test_a_keypoints_json_without_iscrowd_or_num_keypoints_is_scored(tmp_path: Path) -> None:
    """COCOeval reads both on every annotation; a json of another tool may leave them out."""
    val = pose_json(3)
    for ann in val["annotations"]:
        del ann["iscrowd"], ann["num_keypoints"]
    data = COCOKeypointsDataModule(root=str(pose_tree(tmp_path, val=val)), input_size=(64, 48), num_workers=0)
    data.setup("validate")
    metric = COCOKeypointAP(list(data.spec.sigmas))
    for person in data.dataset("val").persons:
        joints = torch.from_numpy(person.joints).float()[None]
        metric.update(
            joints, torch.from_numpy(person.scale)[None], torch.ones(1), torch.tensor([person.image_id])
        )
    metric.ground_truth, metric.expected = data.ground_truth("val"), len(data.dataset("val"))
    assert float(metric.compute()["AP"]) == pytest.approx(1.0)


def test_pose_predict_warns_once_when_no_box_is_on_the_folders_images(tmp_path: Path) -> None:
    save_image(tmp_path / "images" / "a.png")
    data = SyntheticPoseDataModule(num_workers=0, input_size=(32, 24), predict_dir=str(tmp_path / "images"))
    data.person_boxes = str(tmp_path / "boxes.json")
    (tmp_path / "boxes.json").write_text(
        json.dumps([{"file_name": "b.png", "bbox": [1, 1, 9, 9], "score": 1}])
    )
    with pytest.warns(UserWarning, match=r"data\.person_boxes: no person box .* without a skeleton"):
        folder = data.predict_dataloader().dataset
    assert not folder[0]["person"]
