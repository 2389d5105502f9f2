"""The on-disk formats of the official landmark code, and COCO-format face keypoints, read into faces.

- CSV (WFLW, 300W, AFLW): a header row, then per face `image_name, scale, center_w, center_h, x0, y0,
  x1, y1, ...`; AFLW has `box_size` after `scale` (its NME normaliser). Columns whose header is one of
  WFLW's attributes (`pose`, `expression`, `illumination`, `make-up`, `occlusion`, `blur`) are read as
  0/1 subset flags wherever they are.
- COFW `.mat` (MATLAB v5/v7, scipy.io): `IsTr` / `phisTr` (train), `IsT` / `phisT` (test): one image
  per face, and per face 29 x, 29 y (and 29 occlusion flags, unused, as officially).
- COCO keypoints json: `images`, `annotations` (`keypoints` as x, y, v triples, `bbox`), and one
  category naming its `keypoints` (optional `flip_pairs`).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hrnet_lit.common.files import open_image
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.landmarks.data.specs import WFLW_ATTRIBUTES, LandmarkSpec
from hrnet_lit.landmarks.data.transforms import Face
from hrnet_lit.pose.affine import PIXEL_STD


def landmark_norm(spec: LandmarkSpec, landmarks: np.ndarray, box_size: float | None, where: str) -> float:
    """The NME normaliser of one face: the distance of the spec's two landmarks, or its box size."""
    if spec.normalization == "box":
        if box_size is None or not box_size > 0:
            raise InputError(f"{where}: the face box size {box_size} must be > 0 (the NME normaliser)")
        return float(box_size)
    a, b = spec.norm_landmarks
    norm = float(np.linalg.norm(landmarks[a] - landmarks[b]))
    if not norm > 0:
        raise InputError(f"{where}: landmarks {a} and {b} coincide, so the NME normaliser is 0")
    return norm


def _number(value: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{where}: {value!r} is not finite")
    return number


def read_landmark_csv(
    path: Path, spec: LandmarkSpec, key: str
) -> tuple[list[Face], list[str], tuple[str, ...]]:
    """The faces of an official landmark CSV, the image name of each, and the attribute subsets it flags."""
    if not path.is_file():
        raise MissingInputError(f"{key}: annotation file {path} not found")
    with path.open(newline="") as file:
        rows = [row for row in csv.reader(file) if row]
    if len(rows) < 2:
        raise InputError(f"{key}: {path} has no face (a header row, then one row per face)")
    header = [name.strip().lower() for name in rows[0]]
    attribute_columns = [k for k, name in enumerate(header) if name in WFLW_ATTRIBUTES]
    attributes = tuple(header[k] for k in attribute_columns)
    fixed = 5 if spec.normalization == "box" else 4  # name, scale, [box_size,] center_w, center_h
    coord_columns = [k for k in range(fixed, len(header)) if k not in attribute_columns]
    if len(coord_columns) != 2 * spec.num_landmarks:
        raise InputError(
            f"{key}: {path} has {len(coord_columns)} landmark columns, {spec.name} needs "
            f"{2 * spec.num_landmarks} ({spec.num_landmarks} x, y pairs after {fixed} leading columns)"
        )
    faces, names = [], []
    for line, row in enumerate(rows[1:], start=2):
        where = f"{key}: {path} line {line}"
        if len(row) != len(header):
            raise InputError(f"{where} has {len(row)} columns, the header {len(header)}")
        values = {k: _number(row[k], where) for k in range(1, len(row))}
        landmarks = np.array([values[k] for k in coord_columns]).reshape(-1, 2)
        box = values[2] if spec.normalization == "box" else None
        scale = values[1]
        if not scale > 0:
            raise InputError(f"{where}: scale {scale} must be > 0")
        faces.append(
            Face(
                center=np.array([values[fixed - 2], values[fixed - 1]]),
                scale=scale,
                landmarks=landmarks,
                weight=np.ones(spec.num_landmarks, dtype=np.float32),
                norm=landmark_norm(spec, landmarks, box, where),
                image=len(names),
                attributes=np.array([values[k] > 0 for k in attribute_columns], dtype=np.float32),
            )
        )
        names.append(row[0].strip())
    return faces, names, attributes


def read_cofw_mat(
    path: Path, train: bool, spec: LandmarkSpec, key: str
) -> tuple[list[Face], list[np.ndarray]]:
    """The faces and images of an official COFW `.mat`, centred and scaled as the official reader does
    (the landmarks' bounding box, its longer side / 200)."""
    import scipy.io  # only COFW needs it

    if not path.is_file():
        raise MissingInputError(f"{key}: COFW file {path} not found")
    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3 (HDF5)
        raise InputError(
            f"{key}: {path} is a MATLAB v7.3 (HDF5) file; save it as v7 (`save(f, '-v7')`) for scipy.io"
        ) from None
    except (ValueError, OSError) as error:
        raise InputError(f"{key}: cannot read {path} as a MATLAB file: {error}") from None
    image_key, point_key = ("IsTr", "phisTr") if train else ("IsT", "phisT")
    if image_key not in mat or point_key not in mat:
        raise InputError(f"{key}: {path} lacks {image_key!r} / {point_key!r} (has {sorted(mat)})")
    images, points = mat[image_key].reshape(-1), np.asarray(mat[point_key], dtype=np.float64)
    k = spec.num_landmarks
    if points.ndim != 2 or points.shape[1] < 2 * k or len(points) != len(images):
        raise InputError(
            f"{key}: {point_key} is {points.shape}, expected ({len(images)}, >= {2 * k}) for {k} landmarks"
        )
    faces, pixels = [], []
    for i, (image, row) in enumerate(zip(images, points, strict=True)):
        landmarks = row[: 2 * k].reshape(2, -1).T
        (x0, y0), (x1, y1) = landmarks.min(axis=0), landmarks.max(axis=0)
        center = np.array([(math.floor(x0) + math.ceil(x1)) / 2, (math.floor(y0) + math.ceil(y1)) / 2])
        scale = max(math.ceil(x1) - math.floor(x0), math.ceil(y1) - math.floor(y0)) / PIXEL_STD
        where = f"{key}: face {i}"
        faces.append(
            Face(
                center,
                scale,
                landmarks,
                np.ones(k, np.float32),
                landmark_norm(spec, landmarks, None, where),
                i,
            )
        )
        array = np.asarray(image)
        pixels.append(np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array[..., :3])
    return faces, pixels


def read_coco_faces(
    path: Path, spec_of: Callable[[dict[str, Any]], LandmarkSpec], key: str
) -> tuple[list[Face], list[str], LandmarkSpec]:
    """The faces of a COCO-format keypoints json (one category), the file name of each face's image, and
    the landmark set (`spec_of(category)`). A face's box gives its centre and scale (longer side / 200)
    and, with `box` normalisation, its size sqrt(w * h)."""
    if not path.is_file():
        raise MissingInputError(f"{key}: annotation file {path} not found")
    try:
        data = json.loads(path.read_text())
        categories = [c for c in data["categories"] if c.get("keypoints")]
        images = {int(image["id"]): str(image["file_name"]) for image in data["images"]}
        annotations = data["annotations"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise InputError(f"{key}: {path} is not a COCO keypoints json ({error!r})") from None
    if len(categories) != 1:
        raise InputError(f"{key}: {path} needs exactly one category with keypoints, has {len(categories)}")
    spec = spec_of(categories[0])
    k = spec.num_landmarks
    faces, files = [], []
    for n, ann in enumerate(annotations):
        where = f"{key}: {path} annotation {n}"
        points = np.asarray(ann.get("keypoints", []), dtype=np.float64)
        if points.size != 3 * k or ann.get("image_id") not in images or len(ann.get("bbox", [])) != 4:
            raise InputError(f"{where}: needs {3 * k} keypoint values, 4 bbox values and a known image_id")
        points = points.reshape(k, 3)
        x, y, w, h = (float(v) for v in ann["bbox"])
        if not (w > 0 and h > 0):
            raise InputError(f"{where}: bbox {ann['bbox']} has no area")
        weight = (points[:, 2] > 0).astype(np.float32)
        norm = landmark_norm(spec, points[:, :2], math.sqrt(w * h), where)
        faces.append(
            Face(np.array([x + w / 2, y + h / 2]), max(w, h) / PIXEL_STD, points[:, :2], weight, norm, n)
        )
        files.append(images[ann["image_id"]])
    return faces, files, spec


def image_loader(folder: Path, names: list[str]) -> Callable[[int], Image.Image]:
    """Face's image index -> the RGB image `folder / names[index]`."""

    def load(index: int) -> Image.Image:
        with open_image(folder / names[index]) as image:
            return image.convert("RGB")

    return load
