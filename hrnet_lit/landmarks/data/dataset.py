"""Landmark datasets: one sample per face, and the faces of a folder of images for `predict`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from hrnet_lit.common.files import read_rgb
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.landmarks.data.transforms import Face, FaceTransform
from hrnet_lit.pose.affine import PIXEL_STD
from hrnet_lit.pose.data.person_boxes import stem_of


class FaceDataset(Dataset[dict[str, Any]]):
    """`faces[i]` cropped from the image `load(face.image)` gives, through `transform`."""

    def __init__(
        self, faces: list[Face], load: Callable[[int], Image.Image], transform: FaceTransform
    ) -> None:
        self.faces = faces
        self.load = load
        self.transform = transform

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, index: int) -> dict[str, Any]:
        face = self.faces[index]
        return self.transform(self.load(face.image), face)


class FacePredictFolder(Dataset[dict[str, Any]]):
    """Every face of every image in a folder: boxes from `boxes` (file stem -> list of (x, y, w, h,
    score)), or the whole image as one face where an image has none listed. A box's centre and longer
    side / 200 are the face's centre and scale, as the official files give them."""

    def __init__(
        self,
        root: str | Path,
        transform: FaceTransform,
        num_landmarks: int,
        boxes: dict[str, list[list[float]]] | None = None,
    ) -> None:
        self.paths = ImageFolderPredict(root).paths
        self.transform = transform
        self.num_landmarks = num_landmarks
        self.items: list[tuple[int, list[float]]] = []
        for k, path in enumerate(self.paths):
            listed = (boxes or {}).get(stem_of(path.name))
            if listed is None:
                with Image.open(path) as image:
                    listed = [[0.0, 0.0, float(image.width), float(image.height), 1.0]]
            self.items += [(k, box) for box in listed]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        k, (x, y, w, h, *_) = self.items[index]
        empty = np.zeros((self.num_landmarks, 2))
        face = Face(
            np.array([x + w / 2, y + h / 2]), max(w, h) / PIXEL_STD, empty, np.zeros(len(empty)), 1.0, k
        )
        sample = self.transform(read_rgb(self.paths[k]), face)  # 16-bit scaled, as the predictor reads
        return {
            "image": sample["image"],
            "center": sample["center"],
            "scale": sample["scale"],
            "path": str(self.paths[k]),
        }
