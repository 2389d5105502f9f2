"""COCO-format keypoint annotations and person detections -> the persons a top-down model crops."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO

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
    if not path.is_file():
        raise MissingInputError(f"{key}: {path} not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{key}: {path} is not valid JSON: {error}") from None


def read_coco(path: Path, key: str) -> COCO:
    """The annotations at `path`, refused by name when they are not a COCO keypoints file."""
    dataset = read_json(path, key)
    if not isinstance(dataset, dict) or not {"images", "annotations", "categories"} <= set(dataset):
        raise InputError(
            f"{key}: {path} is not a COCO annotation file (needs images, annotations, categories)"
        )
    keypoint_categories = [c for c in dataset["categories"] if c.get("keypoints")]
    if not keypoint_categories:
        raise InputError(f"{key}: {path} has no category with `keypoints` names")
    return coco_from_dict(dataset)


def keypoint_category(coco: COCO) -> dict[str, Any]:
    """The (first) category with keypoint names: COCO's `person`."""
    return next(c for c in coco.dataset["categories"] if c.get("keypoints"))


def gt_persons(
    coco: COCO, image_dir: Path, num_joints: int, aspect_ratio: float, source: str, check_files: bool = True
) -> list[Person]:
    """Every non-crowd annotation with a labelled joint, as the official `_load_coco_keypoint_annotations`.

    A keypoint list of the wrong length, a box with nothing inside the image or a missing image
    file is an error naming `source` (the json) and the annotation id; persons without a labelled
    joint are skipped, and counted in the log.
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
            if w <= 0 or h <= 0 or x2 < x1 or y2 < y1:
                raise InputError(f"{where}: box {ann['bbox']} lies outside the {width} x {height} image")
            path = image_dir / info["file_name"]
            if check_files and path not in checked:
                if not path.is_file():
                    raise MissingInputError(f"{where}: image file {path} not found")
                checked.add(path)
            box = np.array([x1, y1, x2 - x1, y2 - y1])
            center, scale = box_to_center_scale(box, aspect_ratio)
            persons.append(Person(center, scale, joints, box, 1.0, int(image_id), int(ann["id"])))
    if skipped:
        log.info("%s: skipped %d persons with no labelled joint", source, skipped)
    return persons


def detected_persons(
    path: Path, coco: COCO, num_joints: int, aspect_ratio: float, image_thre: float, key: str
) -> list[Person]:
    """Person boxes of a COCO detections json (`[{image_id, category_id, bbox, score}]`) on `coco`'s
    images, those scoring at least `image_thre` (the official `_load_coco_person_detection_results`)."""
    detections = read_json(path, key)
    if not isinstance(detections, list):
        raise InputError(f"{key}: {path} must be a list of detections")
    category = keypoint_category(coco)["id"]
    persons = []
    for k, det in enumerate(detections):
        if det.get("category_id", category) != category or float(det.get("score", 1.0)) < image_thre:
            continue
        if det.get("image_id") not in coco.imgs:
            raise InputError(
                f"{key}: {path}: detection {k} is on image {det.get('image_id')}, not in the annotations"
            )
        box = np.asarray(det.get("bbox", []), dtype=np.float64)
        if box.shape != (4,):
            raise InputError(
                f"{key}: {path}: detection {k} has bbox {det.get('bbox')}, expected [x, y, w, h]"
            )
        center, scale = box_to_center_scale(box, aspect_ratio)
        joints = np.zeros((num_joints, 3))
        persons.append(
            Person(center, scale, joints, box, float(det.get("score", 1.0)), int(det["image_id"]), -1)
        )
    log.info("%s: %d person boxes scoring >= %s", path, len(persons), image_thre)
    return persons
