"""Top-down datasets: one sample per person crop, and the images of a folder for `predict`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from hrnet_lit.common.files import open_image
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.errors import InputError
from hrnet_lit.pose.affine import box_to_center_scale
from hrnet_lit.pose.data.transforms import Person, TopDownTransform


class TopDownDataset(Dataset[dict[str, Any]]):
    """`persons[i]` cropped from the image `load(image_id)` gives, through `transform`."""

    def __init__(
        self, persons: list[Person], load: Callable[[int], Image.Image], transform: TopDownTransform
    ) -> None:
        self.persons = persons
        self.load = load
        self.transform = transform

    def __len__(self) -> int:
        return len(self.persons)

    def __getitem__(self, index: int) -> dict[str, Any]:
        person = self.persons[index]
        return self.transform(self.load(person.image_id), person)


class PosePredictFolder(Dataset[dict[str, Any]]):
    """Every person box of every image in a folder: boxes from `boxes` (file stem or COCO image id ->
    list of (x, y, w, h, score)), or the whole image as one box where an image has none listed."""

    def __init__(
        self,
        root: str | Path,
        transform: TopDownTransform,
        num_joints: int,
        boxes: dict[str, list[list[float]]] | None = None,
    ) -> None:
        self.paths = ImageFolderPredict(root).paths
        self.transform = transform
        self.num_joints = num_joints
        self.items: list[tuple[int, np.ndarray, float]] = []
        for k, path in enumerate(self.paths):
            stem = f"{int(path.stem):012d}" if path.stem.isdigit() else path.stem
            listed = (boxes or {}).get(stem)
            if listed is None:
                with Image.open(path) as image:
                    listed = [[0.0, 0.0, float(image.width), float(image.height), 1.0]]
            self.items += [(k, np.asarray(b[:4], dtype=np.float64), float(b[4])) for b in listed]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        k, box, score = self.items[index]
        center, scale = box_to_center_scale(box, self.transform.aspect_ratio)
        person = Person(center, scale, np.zeros((self.num_joints, 3)), box, score, k, -1)
        with open_image(self.paths[k]) as image:
            sample = self.transform(image, person)
        kept = {key: sample[key] for key in ("image", "center", "scale", "score", "box")}
        return {**kept, "path": str(self.paths[k])}


def boxes_by_stem(detections: list[dict[str, Any]], key: str) -> dict[str, list[list[float]]]:
    """Detections (COCO results format, with `image_id` or `file_name`) grouped by image file stem;
    a COCO image id `n` names the file `<n zero-padded to 12>.jpg` as COCO's files are named."""
    grouped: dict[str, list[list[float]]] = {}
    for k, det in enumerate(detections):
        if "file_name" in det:
            stem = Path(str(det["file_name"])).stem
            stem = f"{int(stem):012d}" if stem.isdigit() else stem
        elif "image_id" in det:
            stem = f"{int(det['image_id']):012d}"
        else:
            raise InputError(f"{key}: detection {k} has neither file_name nor image_id")
        if det.get("category_id", 1) != 1:
            continue
        grouped.setdefault(stem, []).append([*map(float, det["bbox"]), float(det.get("score", 1.0))])
    return grouped
