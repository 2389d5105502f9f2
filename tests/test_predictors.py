"""`hrnet_lit.load` and the predictor of every task: any PIL mode, any size, results in the input's
pixels, a list equal to its images one by one, and (slow) equal to `hrnet-lit predict` on the same
checkpoint. The fast tests save a task built here as a fit checkpoint would hold it."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers import (
    CLASSIFICATION_FIT,
    DETECTION_FIT,
    INSTANCE_FIT,
    LANDMARKS_FIT,
    POSE_FIT,
    SEGMENTATION_FIT,
    TINY_CLASSIFICATION,
    TINY_LANDMARKS,
    TINY_POSE,
    TINY_SEGMENTATION,
)
from PIL import Image
from pycocotools import mask as coco_mask

import hrnet_lit
from hrnet_lit.cli import main
from hrnet_lit.errors import InputError
from hrnet_lit.models.config import BackboneConfig

HEIGHT, WIDTH = 37, 53
MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16")
TINY_DETECTOR = {
    "min_size": 64,
    "max_size": 64,
    "fpn_channels": 16,
    "box_head_width": 32,
    "box_score_thresh": 0.0,
    "box_detections_per_img": 5,
}
DETECTION_BACKBONE = BackboneConfig(
    preset="w18_small_v1", width=4, stem_width=16, stage1_width=8, num_blocks=[1] * 4
)

# task -> (task class path, data class path and arguments, the task's own arguments)
TASKS: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "segmentation": (
        "hrnet_lit.segmentation.SegmentationTask",
        "hrnet_lit.segmentation.data.SyntheticDataModule",
        {"image_size": [64, 64], "crop_size": [64, 64]},
        {"backbone": TINY_SEGMENTATION, "eval_flip": True},
    ),
    "classification": (
        "hrnet_lit.classification.ClassificationTask",
        "hrnet_lit.classification.data.SyntheticClassesDataModule",
        {"image_size": 32, "generated_size": 32},
        {"backbone": TINY_CLASSIFICATION},
    ),
    "pose": (
        "hrnet_lit.pose.PoseTask",
        "hrnet_lit.pose.data.SyntheticPoseDataModule",
        {"input_size": [64, 48]},
        {"backbone": TINY_POSE, "codec": {"sigma": 2.0, "dark": False}, "in_vis_thre": -1.0},
    ),
    "landmarks": (
        "hrnet_lit.landmarks.LandmarkTask",
        "hrnet_lit.landmarks.data.SyntheticFaceDataModule",
        {"input_size": [32, 32]},
        {"backbone": TINY_LANDMARKS},
    ),
    "detection": (
        "hrnet_lit.detection.DetectionTask",
        "hrnet_lit.detection.data.SyntheticDetectionDataModule",
        {"image_size": [64, 64]},
        {"backbone": DETECTION_BACKBONE, "detector": TINY_DETECTOR, "draw_score_thresh": 0.0},
    ),
    "instance": (
        "hrnet_lit.instance.InstanceTask",
        "hrnet_lit.instance.data.SyntheticInstanceDataModule",
        {"image_size": [64, 64]},
        {
            "backbone": DETECTION_BACKBONE,
            "detector": {**TINY_DETECTOR, "mask_head_width": 8, "mask_head_convs": 2},
            "draw_score_thresh": 0.0,
        },
    ),
}


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def save_checkpoint(task_name: str, path: Path) -> Path:
    """A tiny task of `task_name`, built as the CLI builds it (the data gives its classes or joints), saved
    with what a `hrnet-lit fit` checkpoint holds: its class path, init arguments and the data's."""
    from lightning.pytorch.cli import instantiate_module

    from hrnet_lit.cli.task_choice import import_class

    class_path, data_path, data_args, task_args = TASKS[task_name]
    data = import_class(data_path)(num_workers=0, **data_args)
    hparams = {k: _plain(v) for k, v in {**task_args, **data.task_args}.items()}
    torch.manual_seed(0)
    task = instantiate_module(import_class(class_path), hparams)
    torch.save(
        {
            "state_dict": task.state_dict(),
            "hyper_parameters": {**hparams, "_class_path": class_path},
            "datamodule_hyper_parameters": {**data_args, "num_workers": 0, "_class_path": data_path},
            "pytorch-lightning_version": "2.6.6",
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def predictors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("checkpoints")
    options = {"segmentation": {"probs": True}}  # untrained, its class map is one class
    return {
        name: hrnet_lit.load(
            save_checkpoint(name, folder / f"{name}.ckpt"), batch_size=4, **options.get(name, {})
        )
        for name in TASKS
    }


def rgb(seed: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def every_mode(tmp_path: Path) -> list[Any]:
    """The same odd-sized picture in every PIL mode, as an array and as a file."""
    image = Image.fromarray(rgb(0))
    images: list[Any] = [image.convert(mode) for mode in MODES if mode != "I;16"]
    deep = (np.asarray(image.convert("L")).astype(np.uint16) * 257).astype(np.uint16)
    images += [Image.fromarray(deep).convert("I;16"), rgb(1)]
    image.save(tmp_path / "x.png")
    return [*images, tmp_path / "x.png", str(tmp_path / "x.png")]


def crop_reach(box: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The corners (x, y) of the area a top-down crop of `box` (x1, y1, x2, y2) covers: its aspect
    ratio widened to the crop's, padded 1.25 (the official margin), and one heatmap pixel (a quarter
    of the crop's) more, where sub-pixel decoding may reach."""
    centre = (box[:2] + box[2:]) / 2
    w, h = box[2:] - box[:2]
    aspect = size[1] / size[0]
    w, h = max(w, h * aspect), max(h, w / aspect)
    half = np.array([w, h]) * 1.25 / 2
    margin = half * 2 / (np.array(size[::-1]) / 4)
    return centre - half - margin, centre + half + margin


def check_shape(name: str, result: Any, predictor: Any) -> None:
    """`result` is of the right kind and shape, in the pixels of a HEIGHT x WIDTH image."""
    image = rgb(2)
    drawn = result.draw(image)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    json.dumps(result.to_json())
    whole = np.array([0.0, 0.0, WIDTH, HEIGHT])
    if name == "segmentation":
        assert result.mask.shape == (HEIGHT, WIDTH) and result.mask.max() < len(result.class_names)
    elif name == "classification":
        assert len(result.classes) == len(result.probs) == 5 and result.probs == sorted(result.probs)[::-1]
        assert sum(result.probs) <= 1 + 1e-5 and result.names[0] in predictor.task.class_names
    elif name in ("pose", "landmarks"):
        points = result.keypoints if name == "pose" else result.landmarks
        assert np.array_equal(result.boxes, whole[None])
        assert points.shape[1:] == ((predictor.task.hparams.num_joints, 3) if name == "pose" else (22, 2))
        low, high = crop_reach(whole, predictor.transform.input_size)
        assert len(points) == 1 and (points[0, :, :2] >= low).all() and (points[0, :, :2] <= high).all()
    else:
        boxes = result.boxes
        assert (
            len(boxes) > 0 and boxes.shape[1] == 4 and len(result.labels) == len(result.scores) == len(boxes)
        )
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= WIDTH).all() and (boxes[:, 3] <= HEIGHT).all()
        assert hasattr(result, "masks") == (name == "instance")
        if name == "instance":
            assert result.masks.shape == (len(boxes), HEIGHT, WIDTH) and result.masks.dtype == bool


def same(a: Any, b: Any) -> bool:
    """Two results equal, their floats within rounding (a batch of four or of one runs other kernels:
    measured up to 6e-8 apart, where two images' results are 3e-6 or more apart)."""
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            if x.shape != y.shape or not np.allclose(x, y, rtol=1e-5, atol=1e-6):
                return False
        elif isinstance(x, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif field.name == "probs" and isinstance(x, list):
            if not np.allclose(x, y, rtol=1e-5, atol=1e-6):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("name", list(TASKS))
def test_every_pil_mode_of_an_odd_size_gives_results_in_its_pixels(
    name: str, predictors: dict[str, Any], tmp_path: Path
) -> None:
    predictor = predictors[name]
    images = every_mode(tmp_path)
    results = predictor.predict(images)
    assert isinstance(results, list) and len(results) == len(images)
    for result in results:
        check_shape(name, result, predictor)
    single = predictor.predict(images[0])
    assert not isinstance(single, list) and same(single, results[0])


@pytest.mark.parametrize("name", list(TASKS))
def test_a_list_of_sizes_equals_its_images_one_by_one(name: str, predictors: dict[str, Any]) -> None:
    predictor = predictors[name]
    images = [rgb(3), rgb(4, 30, 41), rgb(5), rgb(6, 30, 41), rgb(7)]
    together = predictor.predict(images)
    alone = [predictor.predict(image) for image in images]
    assert all(same(a, b) for a, b in zip(together, alone, strict=True))
    # and different images give different results (the comparison can fail)
    assert not same(together[0], together[2])


def test_pose_takes_boxes_and_a_detector(predictors: dict[str, Any]) -> None:
    predictor = predictors["pose"]
    image = rgb(8, 60, 80)
    boxes = np.array([[10.0, 5.0, 40.0, 55.0, 0.9], [45.0, 10.0, 75.0, 58.0, 0.8]])
    result = predictor.predict(image, boxes=boxes)
    assert 1 <= len(result.keypoints) <= 2  # OKS NMS keeps both unless they overlap
    for joints, box in zip(result.keypoints, result.boxes, strict=True):
        assert any(np.allclose(box, b[:4]) for b in boxes)
        low, high = crop_reach(box, predictor.transform.input_size)
        assert (joints[:, :2] >= low).all() and (joints[:, :2] <= high).all()
    seen: list[tuple[int, ...]] = []

    def detector(pixels: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(pixels.shape))
        assert pixels.dtype == torch.uint8
        return torch.tensor(boxes, dtype=torch.float32)

    predictor.detector, predictor.image_thre = detector, 0.85
    try:
        found, nobody = predictor.predict([image, rgb(9)], boxes=[None, np.zeros((0, 4))])
    finally:
        predictor.detector, predictor.image_thre = None, 0.0
    assert seen == [(3, 60, 80)] and len(found.keypoints) == 1 and np.allclose(found.boxes[0], boxes[0, :4])
    assert nobody.keypoints.shape == (0, predictor.task.hparams.num_joints, 3)
    with pytest.raises(InputError, match="boxes of image 0"):
        predictor.predict(image, boxes=[[10, 10, 5, 20]])


def test_landmarks_take_face_boxes(predictors: dict[str, Any]) -> None:
    predictor = predictors["landmarks"]
    box = np.array([[12.0, 6.0, 44.0, 34.0]])
    result = predictor.predict(rgb(10), boxes=box)
    assert np.array_equal(result.boxes, box) and result.landmarks.shape == (1, 22, 2)
    centre, side = (box[0, :2] + box[0, 2:]) / 2, 32 * 1.25 / 2 + 1
    assert (np.abs(result.landmarks[0] - centre) <= side).all()
    assert predictor.predict(rgb(10), boxes=np.zeros((0, 4))).landmarks.shape == (0, 22, 2)


def test_a_16_bit_image_gives_the_landmarks_of_the_predict_folder(
    predictors: dict[str, Any], tmp_path: Path
) -> None:
    """The predict folder reads a 16-bit greyscale file as the predictor does (scaled, not clipped to
    white), so `predict_step` on its crop gives the predictor's landmarks."""
    from hrnet_lit.landmarks.data import SyntheticFaceDataModule

    predictor = predictors["landmarks"]
    pixels = (np.random.default_rng(3).random((HEIGHT, WIDTH)) * 65535).astype(np.uint16)
    Image.fromarray(pixels).save(tmp_path / "deep.png")  # mode I;16
    data = SyntheticFaceDataModule(input_size=(32, 32), num_workers=0, predict_dir=str(tmp_path))
    (batch,) = data.predict_dataloader()
    with torch.inference_mode():
        found = predictor.task.predict_step(batch, 0)["landmarks"]
    result = predictor.predict(tmp_path / "deep.png")
    assert np.array_equal(found.numpy(), result.landmarks)


def test_bad_inputs_are_refused_by_name(predictors: dict[str, Any], tmp_path: Path) -> None:
    predictor = predictors["segmentation"]
    for image, message in (
        (Image.fromarray(np.zeros((4, 4), np.float32)), r"images\[1\].*mode F"),
        (np.zeros((4, 4), np.uint8), r"images\[1\] is a uint8 array of shape \(4, 4\)"),
        (rgb(0).astype(np.float32), r"images\[1\] is a float32 array"),
        (tmp_path / "missing.png", "missing.png"),
        (3, r"images\[1\] is a int"),
    ):
        with pytest.raises(InputError, match=message):
            predictor.predict([rgb(0), image])
    with pytest.raises(InputError, match="precision='fp8'"):
        hrnet_lit.load(tmp_path / "x.ckpt", precision="fp8")
    (tmp_path / "x.ckpt").write_text("not a checkpoint")
    with pytest.raises(InputError, match=r"config="):
        hrnet_lit.load(tmp_path / "x.ckpt")


def test_bfloat16_autocast_gives_the_float32_classes(predictors: dict[str, Any], tmp_path: Path) -> None:
    path = save_checkpoint("segmentation", tmp_path / "s.ckpt")
    low = hrnet_lit.load(path, precision="bf16-mixed").predict(rgb(11))
    full = predictors["segmentation"].predict(rgb(11))
    assert low.mask.shape == full.mask.shape and (low.mask == full.mask).mean() > 0.9


def test_import_is_light_and_a_task_without_a_predictor_is_named(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import sys, hrnet_lit; print(any(m in sys.modules for m in ('torch', 'lightning')))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
    from test_toy_task import CoverageTask

    task = CoverageTask()
    path = tmp_path / "toy.ckpt"
    hparams = {"_class_path": "test_toy_task.CoverageTask"}
    torch.save(
        {"state_dict": task.state_dict(), "hyper_parameters": hparams, "pytorch-lightning_version": "2"}, path
    )
    with pytest.raises(InputError, match="coverage task has no predictor"):
        hrnet_lit.load(path)


# -- the same checkpoint through `hrnet-lit predict` ---------------------------------------------------

CLI: dict[str, tuple[str | None, list[str]]] = {
    "segmentation": (None, SEGMENTATION_FIT),
    "classification": ("configs/classification/quickstart.yaml", CLASSIFICATION_FIT),
    "pose": ("configs/pose/quickstart.yaml", POSE_FIT),
    "landmarks": ("configs/landmarks/quickstart.yaml", LANDMARKS_FIT),
    "detection": (
        "configs/detection/quickstart.yaml",
        [*DETECTION_FIT, "--model.detector.box_score_thresh=0.0"],
    ),
    "instance": (
        "configs/instance/quickstart.yaml",
        [*INSTANCE_FIT, "--model.detector.box_score_thresh=0.0"],
    ),
}


def cli_outputs(name: str, folder: Path, paths: list[Path]) -> list[Any]:
    """What `hrnet-lit predict` wrote per image, in the form each task's results compare in."""
    by_name: dict[str, list[Any]] = {p.name: [] for p in paths}
    if name == "segmentation":
        return [np.asarray(Image.open(folder / f"{p.stem}.png")) for p in paths]
    if name == "classification":
        with open(folder / "predictions.csv") as file:
            rows = {Path(r[0]).name: r[1:] for r in list(csv.reader(file))[1:]}
        return [rows[p.name] for p in paths]
    results = {
        "pose": "keypoints.json",
        "landmarks": "landmarks.json",
        "detection": "detections.json",
        "instance": "segmentations.json",
    }[name]
    for row in json.loads((folder / results).read_text()):
        by_name[row["file_name"]].append(row)
    return [by_name[p.name] for p in paths]


def predictor_outputs(name: str, result: Any) -> Any:
    """A predictor's result in the form `hrnet-lit predict` writes it."""
    if name == "segmentation":
        return result.colours()
    if name == "classification":
        return [v for n, p in zip(result.names, result.probs, strict=True) for v in (n, f"{p:.6f}")]
    if name == "pose":
        return [
            (j.reshape(-1).tolist(), float(s)) for j, s in zip(result.keypoints, result.scores, strict=True)
        ]
    if name == "landmarks":
        return [face.round(2).tolist() for face in result.landmarks]
    rows = []
    masks = [o.get("mask") for o in result.to_json()["objects"]]
    for k, (box, score) in enumerate(zip(result.boxes.tolist(), result.scores.tolist(), strict=True)):
        x0, y0, x1, y1 = box
        rows.append(
            (
                [round(v, 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                round(score, 4),
                int(result.labels[k]),
                masks[k],
            )
        )
    return rows


def as_written(name: str, rows: Any) -> Any:
    if name == "pose":
        return [(r["keypoints"], r["score"]) for r in rows]
    if name == "landmarks":
        return [r["landmarks"] for r in rows]
    if name in ("detection", "instance"):  # the synthetic classes' category ids are their labels
        return [(r["bbox"], r["score"], r["category_id"], r.get("segmentation")) for r in rows]
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CLI))
def test_the_predictor_equals_hrnet_lit_predict_on_the_same_checkpoint(name: str, tmp_path: Path) -> None:
    config, flags = CLI[name]
    run = [*(["--config", config] if config else []), *flags, "--data.num_workers=0"]
    main(["fit", *run, f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}"])
    (checkpoint,) = (tmp_path / "runs").rglob("last.ckpt")
    images = tmp_path / "images"
    images.mkdir()
    paths = [images / f"{k}.png" for k in range(3)]
    for k, path in enumerate(paths):  # one size: the detector's batch pads to its largest image
        Image.fromarray(rgb(20 + k)).save(path)
    out = tmp_path / "predictions"
    main(
        [
            "predict",
            *run,
            f"--ckpt_path={checkpoint}",
            f"--data.predict_dir={images}",
            f"--predict_writer.output_dir={out}",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        ]
    )
    batch = 4 if name in ("pose", "landmarks", "classification", "detection", "instance") else 1
    predictor = hrnet_lit.load(checkpoint, batch_size=batch)
    results = predictor.predict(paths)
    written = cli_outputs(name, out, paths)
    for result, wrote in zip(results, written, strict=True):
        mine = predictor_outputs(name, result)
        if name == "segmentation":
            assert np.array_equal(mine, wrote)
        else:
            assert mine == as_written(name, wrote)
    if name == "instance":  # the masks compared above are COCO RLEs: decoded, they are the result's
        assert np.array_equal(
            coco_mask.decode(written[0][0]["segmentation"]).astype(bool), results[0].masks[0]
        )
