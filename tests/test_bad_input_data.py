"""Bad input, the data half for pose, detection and classification: every row is a mistake in a file a
user brings (a COCO keypoints or detection json, a person detections file, an image folder), run through
the real entry point (`hrnet-lit ...` in-process) or the public API. Each must stop with exit status 2
(or an `InputError`) and a message that names the file and the annotation, image, detection or key,
with no traceback and nothing written. The config, weights and segmentation rows: tests/test_bad_input.py."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bad_input import Case, refusal
from data_trees import (
    changed,
    claimed_huge_png,
    class_tree,
    detection_json,
    detection_tree,
    detections,
    person,
    pose_json,
    pose_tree,
    save_image,
    truncate,
    write_json,
)
from PIL import Image

from hrnet_lit.classification.data import ClassificationFolderDataModule
from hrnet_lit.detection.data import CocoDetection, CocoFormatDataModule
from hrnet_lit.pose.data import COCOKeypointsDataModule

ROOT = Path(__file__).resolve().parents[1]
TRAINER = [
    "--seed_everything=0",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.max_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]
TRAIN_JSON = r"person_keypoints_train2017\.json"
VAL_JSON = r"person_keypoints_val2017\.json"


def out(tmp: Path) -> list[str]:
    return [f"--trainer.default_root_dir={tmp / 'out'}", f"--trainer.logger.init_args.save_dir={tmp / 'out'}"]


# -- pose ---------------------------------------------------------------------------------------------


def pose_cli(command: str, tmp: Path, root: Path, *extra: str) -> list[str]:
    data = [
        "--data=hrnet_lit.pose.data.COCOKeypointsDataModule",
        f"--data.root={root}",
        "--data.input_size=[64,48]",
        "--data.batch_size=2",
        "--data.num_workers=0",
    ]
    config = ["--config", str(ROOT / "configs/pose/quickstart.yaml"), "--model.backbone.width=8"]
    return [command, *config, *TRAINER, *data, *out(tmp), *extra]


def pose_setup(root: Path, stage: str = "fit", **kwargs: Any) -> Callable[[], object]:
    data = COCOKeypointsDataModule(root=str(root), input_size=(64, 48), batch_size=2, num_workers=0, **kwargs)
    return lambda: data.setup(stage)


def bad_train(tmp: Path, section: str, index: int, stage: str = "fit", **fields: Any) -> Callable[[], object]:
    """The pose tree with one record of the train json changed."""
    return pose_setup(pose_tree(tmp / "d", train=changed(pose_json(1), section, index, **fields)), stage)


def bad_val(tmp: Path, section: str, index: int, **fields: Any) -> Callable[[], object]:
    return pose_setup(pose_tree(tmp / "d", val=changed(pose_json(3), section, index, **fields)), "validate")


def with_boxes(tmp: Path, boxes: Any, stage: str = "validate", **kwargs: Any) -> Callable[[], object]:
    root = pose_tree(tmp / "d")
    return pose_setup(root, stage, person_boxes=str(write_json(tmp / "boxes.json", boxes)), **kwargs)


def no_labelled_joint(data: dict[str, Any]) -> dict[str, Any]:
    for ann in data["annotations"]:
        ann["keypoints"][2::3] = [0] * 17
        ann["num_keypoints"] = 0
    return data


def predict_folder(tmp: Path, *broken: str) -> Path:
    """A folder with one good image and, per name in `broken`, a bad file: `*.txt.png` text, else
    a truncated PNG."""
    folder = tmp / "predict"
    save_image(folder / "good.png")
    for name in broken:
        if name.endswith(".txt.png"):
            (folder / name).write_text("not an image\n")
        else:
            truncate(save_image(folder / name), 200)
    return folder


def pose_predict(tmp: Path, folder: Path, boxes: Any = None, *extra: str) -> list[str]:
    flags = [f"--data.predict_dir={folder}", f"--predict_writer.output_dir={tmp / 'out' / 'poses'}", *extra]
    if boxes is not None:
        flags.append(f"--data.person_boxes={write_json(tmp / 'boxes.json', boxes)}")
    return pose_cli("predict", tmp, pose_tree(tmp / "d"), *flags)


def bad_categories(tmp: Path, categories: Any) -> Callable[[], object]:
    return pose_setup(pose_tree(tmp / "d", val={**pose_json(3), "categories": categories}), "validate")


def bomb(path: Path) -> Path:
    """A PNG whose header claims 60000 x 60000 pixels: PIL's decompression-bomb error."""
    path.write_bytes(claimed_huge_png())
    return path


def by_file(box: Any, **more: Any) -> list[dict[str, Any]]:
    return [{"file_name": "good.png", "category_id": 1, "bbox": box, "score": 0.9, **more}]


# -- detection ----------------------------------------------------------------------------------------


def det_module(paths: dict[str, str]) -> Callable[[], object]:
    return lambda: CocoFormatDataModule(**paths, batch_size=2, num_workers=0).setup("fit")


def det_bad(tmp: Path, split: str, section: str, index: int, **fields: Any) -> Callable[[], object]:
    data = changed(detection_json(1 if split == "train" else 3), section, index, **fields)
    return det_module(detection_tree(tmp / "d", **{split: data}))


def det_raw(tmp: Path, data: Any) -> Callable[[], object]:
    """The train split's json replaced by `data` as it is."""
    paths = detection_tree(tmp / "d")
    write_json(Path(paths["train_annotations"]), data)
    return det_module(paths)


def det_cli(command: str, tmp: Path, paths: dict[str, str], *extra: str) -> list[str]:
    config = [
        "--config",
        str(ROOT / "configs/detection/quickstart.yaml"),
        "--model.backbone.width=4",
        "--model.backbone.num_blocks=[1,1,1,1]",
        "--model.detector.min_size=64",
        "--model.detector.max_size=64",
        "--model.detector.fpn_channels=16",
        "--model.detector.box_head_width=32",
    ]
    data = ["--data=hrnet_lit.detection.data.CocoFormatDataModule", "--data.batch_size=2"]
    data += [f"--data.{key}={value}" for key, value in paths.items()]
    return [command, *config, *TRAINER, *data, "--data.num_workers=0", *out(tmp), *extra]


def det_missing_image(tmp: Path, split: str) -> dict[str, str]:
    paths = detection_tree(tmp / "d")
    (Path(paths[f"{split}_images"]) / f"{2 if split == 'train' else 4:012d}.png").unlink()
    return paths


# -- classification -----------------------------------------------------------------------------------


def cls_cli(command: str, tmp: Path, root: Path, *extra: str) -> list[str]:
    config = ["--config", str(ROOT / "configs/classification/quickstart.yaml"), "--model.backbone.width=8"]
    data = [
        "--data=hrnet_lit.classification.data.ClassificationFolderDataModule",
        f"--data.root={root}",
        "--data.image_size=32",
        "--data.batch_size=2",
        "--data.num_workers=0",
    ]
    return [command, *config, *TRAINER, *data, *out(tmp), *extra]


def cls_item(root: Path, split: str = "train", index: int = 0) -> Callable[[], object]:
    data = ClassificationFolderDataModule(str(root), image_size=32, batch_size=2, num_workers=0)
    return lambda: data.dataset(split)[index]


def text_as_image(path: Path) -> Path:
    path.write_text("not an image\n")
    return path


def float_image(path: Path) -> Path:
    """A 32-bit float image: PIL's mode F, as TIFF (PNG cannot hold it) under a .png name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)).save(path, "TIFF")
    return path


NAN, INF = math.nan, math.inf
A = r"annotation (id )?"  # the annotation, by id

CASES = [
    # -- pose: COCO keypoints json --------------------------------------------------------------------
    Case(
        "pose-ann-no-bbox",
        lambda t: bad_train(t, "annotations", 0, bbox=None),
        rf"{TRAIN_JSON}.*{A}101.*bbox",
    ),
    Case(
        "pose-bbox-strings",
        lambda t: bad_train(t, "annotations", 0, bbox=["10", "6", "36", "36"]),
        rf"{TRAIN_JSON}.*{A}101.*bbox.*'10'",
    ),
    Case(
        "pose-keypoint-string",
        lambda t: bad_train(t, "annotations", 1, keypoints=["x", *person(102, 1)["keypoints"][1:]]),
        rf"{TRAIN_JSON}.*{A}102.*keypoints.*'x'",
    ),
    Case(
        "pose-keypoints-missing",
        lambda t: bad_train(t, "annotations", 2, keypoints=None),
        rf"{A}202.*keypoints",
    ),
    Case(
        "pose-keypoints-nan",
        lambda t: bad_train(t, "annotations", 0, keypoints=[NAN] * 51),
        rf"{TRAIN_JSON}.*{A}101.*keypoints.*nan",
    ),
    Case(
        "pose-bbox-nan",
        lambda t: bad_train(t, "annotations", 0, bbox=[NAN, 6, 36, 36]),
        rf"{A}101.*bbox.*nan",
    ),
    Case(
        "pose-bbox-inf", lambda t: bad_train(t, "annotations", 0, bbox=[1, 6, INF, 36]), rf"{A}101.*bbox.*inf"
    ),
    Case(
        "pose-bbox-three-numbers", lambda t: bad_train(t, "annotations", 0, bbox=[1, 6, 36]), rf"{A}101.*bbox"
    ),
    Case(
        "pose-bbox-negative-width",
        lambda t: bad_train(t, "annotations", 0, bbox=[1, 6, -3, 36]),
        rf"{A}101.*box",
    ),
    Case(
        "pose-image-width-string",
        lambda t: bad_train(t, "images", 0, width="64"),
        rf"{TRAIN_JSON}.*image 1.*width.*'64'",
    ),
    Case(
        "pose-image-height-negative",
        lambda t: bad_train(t, "images", 1, height=-48),
        r"image 2.*height.*-48",
    ),
    Case(
        "pose-image-file_name-number",
        lambda t: bad_train(t, "images", 1, file_name=7),
        r"image 2.*file_name.*7",
    ),
    Case(
        "pose-image-no-id",
        lambda t: bad_train(t, "images", 1, id=None),
        rf"{TRAIN_JSON}.*image.*'id'|{TRAIN_JSON}.*image.*\bid\b",
    ),
    Case(
        "pose-image_id-string",
        lambda t: bad_train(t, "annotations", 0, image_id="1"),
        rf"{A}101.*image_id.*'1'",
    ),
    Case(
        "pose-unknown-image-id", lambda t: bad_train(t, "annotations", 0, image_id=99), rf"{A}101.*image.*99"
    ),
    Case(
        "pose-unknown-category-id",
        lambda t: bad_train(t, "annotations", 0, category_id=5),
        rf"{A}101.*category.*5",
    ),
    Case(
        "pose-iscrowd-string",
        lambda t: bad_train(t, "annotations", 0, iscrowd="no"),
        rf"{A}101.*iscrowd.*'no'",
    ),
    Case(
        "pose-area-missing", lambda t: bad_val(t, "annotations", 0, area=None), rf"{VAL_JSON}.*{A}103.*area"
    ),
    Case(
        "pose-duplicate-annotation-id",
        lambda t: bad_train(t, "annotations", 1, id=101),
        rf"{TRAIN_JSON}.*annotation.*101.*twice|{TRAIN_JSON}.*101.*repeat",
    ),
    Case(
        "pose-duplicate-image-id",
        lambda t: bad_train(t, "images", 1, id=1),
        rf"{TRAIN_JSON}.*image.*\b1\b.*(twice|repeat)",
    ),
    Case(
        "pose-annotation-not-an-object",
        lambda t: pose_setup(pose_tree(t / "d", train={**pose_json(1), "annotations": ["oops"]})),
        rf"{TRAIN_JSON}.*annotations.*'oops'",
    ),
    Case(
        "pose-annotations-a-dict",
        lambda t: pose_setup(pose_tree(t / "d", train={**pose_json(1), "annotations": {}})),
        rf"{TRAIN_JSON}.*annotations",
    ),
    Case(
        "pose-images-empty",
        lambda t: pose_setup(pose_tree(t / "d", train={**pose_json(1), "images": [], "annotations": []})),
        rf"{TRAIN_JSON}.*images.*empty|{TRAIN_JSON}.*no image",
    ),
    Case(
        "pose-category-keypoints-numbers",
        lambda t: bad_val(t, "categories", 0, keypoints=[1, 2, 3]),
        rf"{VAL_JSON}.*categor.*keypoints",
    ),
    Case(
        "pose-skeleton-strings",
        lambda t: bad_val(t, "categories", 0, skeleton=[["a", "b"]]),
        rf"{VAL_JSON}.*skeleton.*'a'",
    ),
    Case(
        "pose-train-zero-annotations",
        lambda t: pose_setup(pose_tree(t / "d", train={**pose_json(1), "annotations": []})),
        rf"{TRAIN_JSON}.*no (annotation|person)",
    ),
    Case(
        "pose-val-no-labelled-joint",
        lambda t: pose_setup(pose_tree(t / "d", val=no_labelled_joint(pose_json(3))), "validate"),
        rf"{VAL_JSON}.*no person.*labelled joint",
    ),
    Case(
        "pose-cli-ann-no-bbox",
        lambda t: pose_cli(
            "validate", t, pose_tree(t / "d", val=changed(pose_json(3), "annotations", 2, bbox=None))
        ),
        rf"{VAL_JSON}.*{A}204.*bbox",
    ),
    Case(
        "pose-cli-val-no-labelled-joint",
        lambda t: pose_cli("fit", t, pose_tree(t / "d", val=no_labelled_joint(pose_json(3)))),
        rf"{VAL_JSON}.*labelled joint",
    ),
    # -- pose: person boxes (a detections json) -----------------------------------------------------
    Case(
        "boxes-a-dict",
        lambda t: with_boxes(t, {"image_id": 3, "bbox": [1, 1, 9, 9]}),
        r"person_boxes.*boxes\.json.*list",
    ),
    Case(
        "boxes-three-numbers",
        lambda t: with_boxes(t, detections([1, 1, 9])),
        r"boxes\.json.*detection 0.*bbox",
    ),
    Case(
        "boxes-no-bbox",
        lambda t: with_boxes(t, [{"image_id": 3, "score": 0.9}]),
        r"boxes\.json.*detection 0.*bbox",
    ),
    Case(
        "boxes-zero-width",
        lambda t: with_boxes(t, detections([5, 5, 20, 20], [5, 5, 0, 20])),
        r"boxes\.json.*detection 1.*image 3.*bbox.*0",
    ),
    Case(
        "boxes-negative-height",
        lambda t: with_boxes(t, detections([5, 5, 20, -4])),
        r"boxes\.json.*detection 0.*bbox.*-4",
    ),
    Case(
        "boxes-bbox-strings",
        lambda t: with_boxes(t, detections(["5", 5, 20, 20])),
        r"boxes\.json.*detection 0.*bbox.*'5'",
    ),
    Case(
        "boxes-bbox-nan",
        lambda t: with_boxes(t, detections([5, NAN, 20, 20])),
        r"boxes\.json.*detection 0.*bbox.*nan",
    ),
    Case(
        "boxes-score-string",
        lambda t: with_boxes(t, [{"image_id": 3, "category_id": 1, "bbox": [5, 5, 20, 20], "score": "high"}]),
        r"boxes\.json.*detection 0.*score.*'high'",
    ),
    Case("boxes-entry-not-an-object", lambda t: with_boxes(t, [[5, 5, 20, 20]]), r"boxes\.json.*detection 0"),
    Case(
        "boxes-unknown-image",
        lambda t: with_boxes(t, detections([5, 5, 20, 20], image_id=77)),
        r"boxes\.json.*detection 0.*image 77",
    ),
    Case(
        "boxes-all-below-image_thre",
        lambda t: with_boxes(t, detections([5, 5, 20, 20], score=0.2), image_thre=0.5),
        r"person_boxes.*boxes\.json.*image_thre",
    ),
    Case(
        "boxes-cli-zero-size",
        lambda t: pose_cli(
            "validate",
            t,
            pose_tree(t / "d"),
            f"--data.person_boxes={write_json(t / 'boxes.json', detections([5, 5, 0, 0]))}",
        ),
        r"boxes\.json.*detection 0.*bbox",
    ),
    # -- pose: predict folder -----------------------------------------------------------------------
    Case(
        "pose-predict-not-an-image",
        lambda t: pose_predict(t, predict_folder(t, "notes.txt.png")),
        r"notes\.txt\.png",
    ),
    Case(
        "pose-predict-truncated", lambda t: pose_predict(t, predict_folder(t, "broken.png")), r"broken\.png"
    ),
    Case(
        "pose-predict-truncated-with-boxes",
        lambda t: pose_predict(t, predict_folder(t, "broken.png"), by_file([1, 1, 9, 9])),
        r"broken\.png",
    ),
    Case(
        "pose-predict-boxes-zero-size",
        lambda t: pose_predict(t, predict_folder(t), by_file([1, 1, 0, 9])),
        r"person_boxes.*boxes\.json.*detection 0.*bbox",
    ),
    Case(
        "pose-predict-boxes-a-dict",
        lambda t: pose_predict(t, predict_folder(t), {"bbox": [1, 1, 9, 9]}),
        r"person_boxes.*boxes\.json.*list",
    ),
    Case(
        "pose-predict-boxes-no-bbox",
        lambda t: pose_predict(t, predict_folder(t), [{"file_name": "good.png"}]),
        r"boxes\.json.*detection 0.*bbox",
    ),
    Case(
        "pose-predict-boxes-three-numbers",
        lambda t: pose_predict(t, predict_folder(t), by_file([1, 1, 9])),
        r"boxes\.json.*detection 0.*bbox",
    ),
    Case(
        "pose-predict-boxes-strings",
        lambda t: pose_predict(t, predict_folder(t), by_file(["a", 1, 9, 9])),
        r"boxes\.json.*detection 0.*bbox.*'a'",
    ),
    Case(
        "pose-predict-boxes-image_id-string",
        lambda t: pose_predict(t, predict_folder(t), [{"image_id": "x", "bbox": [1, 1, 9, 9]}]),
        r"boxes\.json.*detection 0.*image_id.*'x'",
    ),
    # -- detection: COCO json ------------------------------------------------------------------------
    Case(
        "det-ann-no-bbox",
        lambda t: det_bad(t, "train", "annotations", 0, bbox=None),
        rf"train\.json.*{A}11.*bbox",
    ),
    Case(
        "det-bbox-strings",
        lambda t: det_bad(t, "train", "annotations", 0, bbox=["a", 6, 30, 20]),
        rf"train\.json.*{A}11.*bbox.*'a'",
    ),
    Case(
        "det-bbox-numeric-strings",
        lambda t: det_bad(t, "train", "annotations", 1, bbox=["30", "20", "20", "20"]),
        rf"train\.json.*{A}21.*bbox.*'30'",
    ),
    Case(
        "det-bbox-nan",
        lambda t: det_bad(t, "val", "annotations", 0, bbox=[NAN, 6, 30, 20]),
        rf"val\.json.*{A}13.*bbox.*nan",
    ),
    Case(
        "det-bbox-three-numbers",
        lambda t: det_bad(t, "train", "annotations", 0, bbox=[4, 6, 30]),
        rf"train\.json.*{A}11.*bbox",
    ),
    Case(
        "det-image-width-string",
        lambda t: det_bad(t, "train", "images", 0, width="64"),
        r"train\.json.*image 1.*width.*'64'",
    ),
    Case(
        "det-image-width-word",
        lambda t: det_bad(t, "train", "images", 0, width="wide"),
        r"train\.json.*image 1.*width.*'wide'",
    ),
    Case(
        "det-image-height-zero",
        lambda t: det_bad(t, "val", "images", 1, height=0),
        r"val\.json.*image 4.*height.*0",
    ),
    Case(
        "det-image-id-float",
        lambda t: det_bad(t, "train", "images", 1, id=2.5),
        r"train\.json.*image.*id.*2\.5",
    ),
    Case(
        "det-image-no-file_name",
        lambda t: det_bad(t, "train", "images", 1, file_name=None),
        r"train\.json.*image 2.*file_name",
    ),
    Case(
        "det-category-id-string",
        lambda t: det_bad(t, "train", "annotations", 0, category_id="3"),
        rf"train\.json.*{A}11.*category_id.*'3'",
    ),
    Case(
        "det-unknown-image-id",
        lambda t: det_bad(t, "train", "annotations", 0, image_id=9),
        rf"train\.json.*{A}11.*image.*9",
    ),
    Case(
        "det-unknown-category-id",
        lambda t: det_bad(t, "train", "annotations", 0, category_id=4),
        rf"train\.json.*{A}11.*category.*4",
    ),
    Case(
        "det-area-string",
        lambda t: det_bad(t, "train", "annotations", 0, area="big"),
        rf"train\.json.*{A}11.*area.*'big'",
    ),
    Case(
        "det-iscrowd-two",
        lambda t: det_bad(t, "train", "annotations", 0, iscrowd=2),
        rf"train\.json.*{A}11.*iscrowd.*2",
    ),
    Case(
        "det-duplicate-annotation-id",
        lambda t: det_bad(t, "train", "annotations", 1, id=11),
        r"train\.json.*annotation.*11.*(twice|repeat)",
    ),
    Case(
        "det-duplicate-image-id",
        lambda t: det_bad(t, "train", "images", 1, id=1),
        r"train\.json.*image.*\b1\b.*(twice|repeat)",
    ),
    Case(
        "det-annotation-not-an-object",
        lambda t: det_raw(t, {**detection_json(1), "annotations": [7]}),
        r"train\.json.*annotations.*7",
    ),
    Case(
        "det-image-not-an-object",
        lambda t: det_raw(t, {**detection_json(1), "images": ["a.png"], "annotations": []}),
        r"train\.json.*images.*'a\.png'",
    ),
    Case(
        "det-images-empty",
        lambda t: det_raw(t, {**detection_json(1), "images": [], "annotations": []}),
        r"train\.json.*(images.*empty|no image)",
    ),
    Case(
        "det-train-zero-annotations",
        lambda t: det_raw(t, {**detection_json(1), "annotations": []}),
        r"train\.json.*no annotation",
    ),
    Case(
        "det-val-image-missing-at-setup",
        lambda t: det_module(det_missing_image(t, "val")),
        r"val\.json.*image 4.*000000000004\.png.*not found|000000000004\.png.*not found",
    ),
    Case(
        "det-cli-train-image-missing",
        lambda t: det_cli("fit", t, det_missing_image(t, "train"), "--trainer.max_steps=4"),
        r"000000000002\.png.*not found",
    ),
    Case(
        "det-cli-bbox-strings",
        lambda t: det_cli(
            "fit",
            t,
            detection_tree(
                t / "d", train=changed(detection_json(1), "annotations", 2, bbox="[8, 8, 40, 30]")
            ),
        ),
        rf"train\.json.*{A}12.*bbox",
    ),
    Case(
        "det-cli-predict-not-an-image",
        lambda t: det_cli(
            "predict", t, detection_tree(t / "d"), f"--data.predict_dir={predict_folder(t, 'notes.txt.png')}"
        ),
        r"notes\.txt\.png",
    ),
    Case(
        "det-dataset-image-width-nan",
        lambda t: (
            lambda: CocoDetection(
                detection_tree(t / "d")["train_images"],
                write_json(t / "x.json", changed(detection_json(1), "images", 0, width=NAN)),
            )
        ),
        r"x\.json.*image 1.*width.*nan",
    ),
    # Found by the property tests (tests/test_data_properties.py) before the checks.
    Case(
        "det-image-width-inf",
        lambda t: det_bad(t, "train", "images", 1, width=INF),
        r"train\.json.*image 2.*width.*inf",
    ),
    Case(
        "det-ann-id-huge-float",
        lambda t: det_bad(t, "train", "annotations", 0, id=1e300),
        r"train\.json.*annotations\[0\].*id.*1e\+300",
    ),
    Case(
        "pose-category-not-an-object",
        lambda t: bad_categories(t, ["person"]),
        rf"{VAL_JSON}.*categories\[0\].*'person'",
    ),
    Case(
        "pose-predict-decompression-bomb",
        lambda t: pose_predict(t, bomb(predict_folder(t) / "huge.png").parent),
        r"huge\.png.*pixels",
    ),
    # -- classification: class folders ---------------------------------------------------------------
    Case(
        "cls-not-an-image",
        lambda t: cls_item(text_as_image(class_tree(t / "d") / "train/circle/0.png").parents[2]),
        r"circle/0\.png",
    ),
    Case(
        "cls-truncated",
        lambda t: cls_item(
            truncate(save_image(class_tree(t / "d") / "train/circle/0.png", size=(32, 32)), 150).parents[2]
        ),
        r"circle/0\.png",
    ),
    Case(
        "cls-float-image",
        lambda t: cls_item(float_image(class_tree(t / "d") / "train/circle/0.png").parents[2]),
        r"circle/0\.png.*(F|float)",
    ),
    Case(
        "cls-cli-predict-truncated",
        lambda t: cls_cli(
            "predict", t, class_tree(t / "d"), f"--data.predict_dir={predict_folder(t, 'broken.png')}"
        ),
        r"broken\.png",
    ),
    Case(
        "cls-cli-val-unknown-class",
        lambda t: cls_cli(
            "validate", t, save_image(class_tree(t / "d") / "val/triangle/0.png", size=(32, 32)).parents[2]
        ),
        r"triangle",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_data_is_a_clear_error(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message, cli = refusal(case, tmp_path, capsys)
    if cli:
        written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
        assert not written, f"a failed run wrote {written}"
    assert re.search(case.names, message, re.DOTALL), message
