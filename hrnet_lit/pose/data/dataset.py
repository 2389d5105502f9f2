"""Top-down datasets: one sample per person crop, and the images of a folder for `predict`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image
from torch.utils.data import Dataset

from hrnet_lit.common.files import read_rgb
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.pose.affine import box_to_center_scale
from hrnet_lit.pose.data.person_boxes import stem_of
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
    """Every person box of every image in a folder. Without `boxes`, the whole image is one person.
    With `boxes` (file stem -> list of (x, y, w, h, score), a detector's), an image none is listed for
    has no person: it is served once, flagged `person` False, so that `predict` still writes it, with
    no skeleton drawn. `source` (the boxes' config key) names them in the warning that no image has one."""

    def __init__(
        self,
        root: str | Path,
        transform: TopDownTransform,
        num_joints: int,
        boxes: dict[str, list[list[float]]] | None = None,
        source: str = "data.person_boxes",
    ) -> None:
        self.paths = ImageFolderPredict(root).paths
        self.transform = transform
        self.num_joints = num_joints
        self.items: list[tuple[int, np.ndarray | None, float]] = []
        for k, path in enumerate(self.paths):
            listed = [None] if boxes is None else boxes.get(stem_of(path.name), [None])
            self.items += [
                (k, None if b is None else np.asarray(b[:4]), 1.0 if b is None else b[4]) for b in listed
            ]
        self.whole_image = boxes is None
        if boxes is not None and all(box is None for _, box, _ in self.items):
            rank_zero_warn(
                f"{source}: no person box scoring >= data.image_thre is on an image of {root}; "
                "every image is written without a skeleton"
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        k, box, score = self.items[index]
        image = read_rgb(self.paths[k])
        if box is None:
            box = np.array([0.0, 0.0, float(image.width), float(image.height)])
        center, scale = box_to_center_scale(box, self.transform.aspect_ratio)
        person = Person(center, scale, np.zeros((self.num_joints, 3)), box, score, k, -1)
        sample = self.transform(image, person)
        kept = {key: sample[key] for key in ("image", "center", "scale", "score", "box")}
        found = self.whole_image or self.items[index][1] is not None
        return {**kept, "path": str(self.paths[k]), "person": torch.tensor(found)}
