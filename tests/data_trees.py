"""Small valid dataset trees on disk, one per file format a user brings: a COCO keypoints tree (pose), a
COCO detection tree, a class-folder tree and a folder of images to predict on. The bad-input table
(tests/test_bad_input_data.py) and the property tests (tests/test_data_properties.py) damage them."""

from __future__ import annotations

import copy
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hrnet_lit.pose.data.keypoints import COCO_JOINTS

IMAGE_W, IMAGE_H = 64, 48


def save_image(path: Path, seed: int = 0, size: tuple[int, int] = (IMAGE_W, IMAGE_H)) -> Path:
    """An RGB noise image of `size` (width, height) at `path` (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def truncate(path: Path, keep: int = 100) -> Path:
    path.write_bytes(path.read_bytes()[:keep])
    return path


def claimed_huge_png() -> bytes:
    """A PNG whose header claims 60000 x 60000 pixels (PIL's decompression bomb) and holds a few."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b"")


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


# -- pose: COCO keypoints ---------------------------------------------------------------------------


def person(ann_id: int, image_id: int, seed: int = 0) -> dict[str, Any]:
    """A person annotation with all 17 COCO joints labelled inside its box."""
    rng = np.random.default_rng(seed + ann_id)
    xy = rng.uniform([12, 8], [44, 40], size=(17, 2)).round(1)
    joints = np.concatenate([xy, np.full((17, 1), 2.0)], axis=1)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "bbox": [10.0, 6.0, 36.0, 36.0],
        "area": 1000.0,
        "iscrowd": 0,
        "num_keypoints": 17,
        "keypoints": joints.reshape(-1).tolist(),
    }


def pose_json(first_image: int = 1) -> dict[str, Any]:
    """Two images, three persons (ids 10x for the first image, 20x for the second)."""
    a, b = first_image, first_image + 1
    category = {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(COCO_JOINTS),
        "skeleton": [[16, 14], [14, 12], [6, 7]],
    }
    return {
        "images": [
            {"id": a, "file_name": f"{a:012d}.jpg", "width": IMAGE_W, "height": IMAGE_H},
            {"id": b, "file_name": f"{b:012d}.jpg", "width": IMAGE_W, "height": IMAGE_H},
        ],
        "annotations": [person(100 + a, a), person(101 + a, a), person(200 + b, b)],
        "categories": [category],
    }


def pose_tree(root: Path, train: dict[str, Any] | None = None, val: dict[str, Any] | None = None) -> Path:
    """`root` in COCOKeypointsDataModule's layout: train images 1, 2 and val images 3, 4."""
    for split, data in (("train", train or pose_json(1)), ("val", val or pose_json(3))):
        for info in data["images"]:
            name = info.get("file_name") if isinstance(info, dict) else None
            if isinstance(name, str) and name and "/" not in name:
                save_image(root / "images" / f"{split}2017" / name, seed=len(name))
        write_json(root / "annotations" / f"person_keypoints_{split}2017.json", data)
    return root


def changed(data: dict[str, Any], section: str, index: int, **fields: Any) -> dict[str, Any]:
    """A copy of the COCO dict `data` with `data[section][index]` updated (a `None` value deletes)."""
    out = copy.deepcopy(data)
    record = out[section][index]
    for key, value in fields.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return out


def detections(*boxes: list[Any], image_id: int = 3, score: float = 0.9) -> list[dict[str, Any]]:
    """A person detections file (COCO results format) with one detection per box."""
    return [{"image_id": image_id, "category_id": 1, "bbox": box, "score": score} for box in boxes]


# -- detection: COCO instances ----------------------------------------------------------------------


def detection_json(first_image: int = 1) -> dict[str, Any]:
    """Two images, three boxes of two categories (ids 3 and 7, COCO's gaps)."""
    a, b = first_image, first_image + 1
    boxes = [(10 + a, a, 3, [4, 6, 30, 20]), (20 + a, a, 7, [30, 20, 20, 20]), (10 + b, b, 7, [8, 8, 40, 30])]
    return {
        "images": [
            {"id": a, "file_name": f"{a:012d}.png", "width": IMAGE_W, "height": IMAGE_H},
            {"id": b, "file_name": f"{b:012d}.png", "width": IMAGE_W, "height": IMAGE_H},
        ],
        "annotations": [
            {"id": i, "image_id": image, "category_id": c, "bbox": box, "area": box[2] * box[3], "iscrowd": 0}
            for i, image, c, box in boxes
        ],
        "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}],
    }


def detection_tree(
    root: Path, train: dict[str, Any] | None = None, val: dict[str, Any] | None = None
) -> dict[str, str]:
    """Train images 1, 2 and val images 3, 4 with their jsons: CocoFormatDataModule's arguments."""
    paths: dict[str, str] = {}
    for split, data in (("train", train or detection_json(1)), ("val", val or detection_json(3))):
        for info in data["images"]:
            name = info.get("file_name") if isinstance(info, dict) else None
            if isinstance(name, str) and name and "/" not in name:
                save_image(root / split / name, seed=len(name))
        paths[f"{split}_images"] = str(root / split)
        paths[f"{split}_annotations"] = str(write_json(root / f"{split}.json", data))
    return paths


# -- classification: class folders ------------------------------------------------------------------


def class_tree(root: Path) -> Path:
    """`root/{train,val}/{circle,square}/*.png`, 32 x 32, two images per class and split."""
    for split in ("train", "val"):
        for c, name in enumerate(("circle", "square")):
            for k in range(2):
                save_image(root / split / name / f"{k}.png", seed=10 * c + k, size=(32, 32))
    return root
