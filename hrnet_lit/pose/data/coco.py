"""COCO-format keypoint annotations -> the persons a top-down model crops.

The json is checked field by field when it is read (`check_keypoints_json`), so that a wrong value is an
error naming the file, the image or annotation id, the key and the value, instead of a KeyError inside
pycocotools or a numpy error at the first batch. `iscrowd` (0) and `num_keypoints` (the labelled joints)
are filled in where missing, as COCO's own files have them and COCOeval reads them.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools.coco import COCO

from hrnet_lit.common.files import read_rgb
from hrnet_lit.common.json_fields import Fields, read_json_file, records, unique
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.pose.affine import box_to_center_scale
from hrnet_lit.pose.data.transforms import Person

log = logging.getLogger(__name__)


def coco_from_dict(dataset: dict[str, Any]) -> COCO:
    """A pycocotools COCO index over an in-memory dict (its progress prints silenced)."""
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def read_json(path: Path, key: str) -> Any:
    return read_json_file(path, key)


def read_coco(path: Path, key: str) -> COCO:
    """The annotations at `path`, refused by name when they are not a valid COCO keypoints file."""
    return coco_from_dict(check_keypoints_json(read_json(path, key), f"{key}: {path}"))


def _check_category(category: dict[str, Any], where: str) -> None:
    fields = Fields(category, f"{where}: category {category.get('id')}")
    joints = len(fields.strings("keypoints"))
    fields.int_lists("skeleton", 2, 1, joints, default=None)  # 1-based, as COCO's
    fields.int_lists("flip_pairs", 2, 0, joints - 1, default=None)
    fields.int_lists("upper_body", None, 0, joints - 1, default=None)
    if category.get("sigmas") is not None:
        sigmas = fields.numbers("sigmas", joints)
        if min(sigmas) <= 0:
            raise fields.wrong("sigmas", category["sigmas"], f"{joints} positive numbers")


def check_keypoints_json(dataset: Any, where: str) -> dict[str, Any]:
    """`dataset` checked as a COCO keypoints file (`where` names it): typed fields, unique ids, every
    annotation on a listed image and category, the keypoint category's annotations with 3 values per
    joint. Returns it with `iscrowd` and `num_keypoints` filled in where missing."""
    if not isinstance(dataset, dict) or not {"images", "annotations", "categories"} <= set(dataset):
        raise InputError(f"{where} is not a COCO annotation file (needs images, annotations, categories)")
    categories = records(dataset["categories"], where, "categories")
    images = records(dataset["images"], where, "images", allow_empty=False)
    annotations = records(dataset["annotations"], where, "annotations")
    category_ids = [Fields(c, f"{where}: categories[{k}]").integer("id") for k, c in enumerate(categories)]
    unique(category_ids, where, "category")
    keypoint_categories = [c for c in categories if c.get("keypoints")]
    if not keypoint_categories:
        raise InputError(f"{where} has no category with `keypoints` names")
    _check_category(keypoint_categories[0], where)
    keypoint_category, joints = keypoint_categories[0]["id"], len(keypoint_categories[0]["keypoints"])
    image_ids = []
    for k, image in enumerate(images):
        image_id = Fields(image, f"{where}: images[{k}]").integer("id")
        fields = Fields(image, f"{where}: image {image_id}")
        fields.text("file_name")
        fields.integer("width", 1, default=None)
        fields.integer("height", 1, default=None)
        image_ids.append(image_id)
    unique(image_ids, where, "image")
    known_images, known_categories = set(image_ids), set(category_ids)
    for k, ann in enumerate(annotations):
        ann_id = Fields(ann, f"{where}: annotations[{k}]").integer("id")
        fields = Fields(ann, f"{where}: annotation {ann_id}")
        image_id, category = fields.integer("image_id"), fields.integer("category_id")
        if image_id not in known_images:
            raise InputError(f"{fields.where} is on image_id {image_id}, which 'images' does not list")
        if category not in known_categories:
            raise InputError(f"{fields.where} has category_id {category}, which 'categories' does not list")
        crowd = fields.integer("iscrowd", 0, default=0)
        if crowd > 1:
            raise fields.wrong("iscrowd", crowd, "0 or 1")
        fields.box("bbox")
        fields.number("area", 0.0)
        values = fields.numbers("keypoints", 3 * joints) if category == keypoint_category else []
        labelled = int(np.count_nonzero(np.asarray(values[2::3]) > 0))
        fields.integer("num_keypoints", 0, default=None)
        ann.setdefault("iscrowd", crowd)
        ann.setdefault("num_keypoints", labelled)
    unique([ann["id"] for ann in annotations], where, "annotation")
    return dataset


def keypoint_category(coco: COCO) -> dict[str, Any]:
    """The (first) category with keypoint names: COCO's `person`."""
    return next(c for c in coco.dataset["categories"] if c.get("keypoints"))


def gt_persons(
    coco: COCO, image_dir: Path, num_joints: int, aspect_ratio: float, source: str, check_files: bool = True
) -> list[Person]:
    """Every non-crowd annotation with a labelled joint, as the official `_load_coco_keypoint_annotations`.

    A keypoint list of the wrong length, a box with nothing inside the image or a missing image
    file is an error naming `source` (the json) and the annotation id; persons without a labelled
    joint are skipped, and counted in the log. A split with no person left is an error: it would
    train on nothing, or score nothing.
    """
    category = keypoint_category(coco)["id"]
    persons: list[Person] = []
    skipped = 0
    checked: set[Path] = set()
    for image_id in sorted(coco.imgs):
        info = coco.imgs[image_id]
        width, height = info.get("width"), info.get("height")
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, catIds=[category], iscrowd=False)):
            where = f"{source}: annotation {ann.get('id')} (image {info.get('file_name')})"
            values = ann.get("keypoints") or []
            if len(values) != 3 * num_joints:
                raise InputError(f"{where}: {len(values)} keypoint values, expected 3 x {num_joints} joints")
            joints = np.asarray(values, dtype=np.float64).reshape(num_joints, 3)
            joints[:, 2] = np.minimum(joints[:, 2], 1.0)  # the official visibility: labelled or not
            if not (joints[:, 2] > 0).any():
                skipped += 1
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            # The official box cleaning: clip to the image, keep boxes with something inside.
            x1, y1 = max(0.0, x), max(0.0, y)
            x2 = min(width - 1.0, x1 + max(0.0, w - 1.0)) if width else x1 + max(0.0, w - 1.0)
            y2 = min(height - 1.0, y1 + max(0.0, h - 1.0)) if height else y1 + max(0.0, h - 1.0)
            if w <= 0 or h <= 0 or x2 < x1 or y2 < y1 or x2 - x1 + y2 - y1 <= 0:
                raise InputError(f"{where}: box {ann['bbox']} lies outside the {width} x {height} image")
            path = image_dir / info["file_name"]
            if check_files and path not in checked:
                if not path.is_file():
                    raise MissingInputError(f"{where}: image file {path} not found")
                checked.add(path)
            box = np.array([x1, y1, x2 - x1, y2 - y1])
            center, scale = box_to_center_scale(box, aspect_ratio)
            persons.append(Person(center, scale, joints, box, 1.0, int(image_id), int(ann["id"])))
    if not persons:
        raise InputError(
            f"{source}: no person with a labelled joint ({len(coco.anns)} annotations, {skipped} of them "
            "non-crowd persons with every joint unlabelled): there would be nothing to train on or score"
        )
    if skipped:
        log.info("%s: skipped %d persons with no labelled joint", source, skipped)
    return persons


def image_loader(folder: Path, coco: COCO) -> Callable[[int], Image.Image]:
    """Image id -> the RGB image of `coco`'s record under `folder` (the one reader of every task)."""

    def load(image_id: int) -> Image.Image:
        return read_rgb(folder / coco.imgs[image_id]["file_name"])

    return load
