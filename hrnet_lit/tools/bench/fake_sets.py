"""Fake datasets in the real on-disk formats, for timing a config's data pipeline without the data.

The pixels matter to the timing: decoders and compressors run at different speeds on flat colour, on
white noise and on photographs. A scene here is what a photograph is to them: regions and shapes
of one label each, coloured, with smooth low-frequency shading and a little sensor-like grain,
encoded as the format's own files (PNG for Cityscapes, JPEG quality 90 elsewhere) at the format's
usual source size. Each maker writes a handful of files per split, which a benchmark reuses by
index; the annotations are valid ones, with shapes, boxes, polygons, joints or landmarks lying on
the drawn shapes.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from hrnet_lit.errors import InputError

Size = tuple[int, int]  # H, W

# The source sizes of the formats' own images (H, W): a Cityscapes frame, a typical COCO photo,
# a typical ImageNet photo.
CITYSCAPES_SIZE: Size = (1024, 2048)
COCO_SIZE: Size = (480, 640)
IMAGENET_SIZE: Size = (375, 500)
FACE_SIZE: Size = (480, 640)
JPEG_QUALITY = 90
# Grain of the scenes (grey levels): a 640x480 JPEG then holds about 140 KB (COCO's average file is
# about 160 KB), a 2048x1024 PNG about 2.7 MB (Cityscapes': 2 to 2.5 MB).
JPEG_GRAIN = 16.0
PNG_GRAIN = 1.0


@dataclass(frozen=True)
class Shape:
    """One drawn object: its label and its outline (k x 2, x and y in pixels)."""

    label: int
    outline: np.ndarray

    @property
    def box(self) -> tuple[float, float, float, float]:
        """x, y, width, height of the outline's bounding box (COCO's bbox)."""
        x0, y0 = self.outline.min(axis=0)
        x1, y1 = self.outline.max(axis=0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def _outline(rng: np.random.Generator, size: Size, scale: tuple[float, float]) -> np.ndarray:
    """A triangle, a quadrilateral or an ellipse, inside the image, its extent a `scale` share of it."""
    height, width = size
    sides = int(rng.choice([3, 4, 24]))
    radius = rng.uniform(*scale) * min(height, width) / 2
    aspect = rng.uniform(0.5, 2.0)
    rx, ry = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    cx = rng.uniform(min(rx, width / 2), max(width - rx, width / 2))
    cy = rng.uniform(min(ry, height / 2), max(height - ry, height / 2))
    angles = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, sides, endpoint=False)
    points = np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)
    return np.clip(points, 0, [width - 1, height - 1]).round(1)


def scene(
    rng: np.random.Generator,
    size: Size,
    background: Sequence[int],
    objects: Sequence[int],
    scale: tuple[float, float] = (0.15, 0.5),
    grain: float = JPEG_GRAIN,
) -> tuple[np.ndarray, np.ndarray, list[Shape]]:
    """(uint8 RGB H x W x 3, uint8 label map H x W, the shapes): horizontal bands of the `background`
    labels, then one shape per label of `objects`, each label in its own colour, shaded at two scales
    and with `grain` (its standard deviation, in grey levels), so that the files compress about as
    photographs do (unlike flat colour or white noise)."""
    height, width = size
    mask = Image.new("L", (width, height))
    draw = ImageDraw.Draw(mask)
    bands = np.sort(rng.uniform(0, height, len(background) - 1)).astype(int).tolist()
    for label, top, bottom in zip(background, [0, *bands], [*bands, height], strict=True):
        draw.rectangle([0, top, width, bottom], fill=int(label))
    shapes = [Shape(int(label), _outline(rng, size, scale)) for label in objects]
    for shape in shapes:
        draw.polygon([tuple(p) for p in shape.outline], fill=shape.label)
    labels = np.asarray(mask)
    palette = rng.integers(30, 226, (256, 3)).astype(np.float32)
    shading = sum(
        _smooth(
            rng.normal(0, sd, (max(2, height // step), max(2, width // step), 3)).astype(np.float32), size
        )
        for sd, step in ((25, 64), (15, 8))
    )
    noise = rng.normal(0, grain, (height, width, 3)).astype(np.float32)
    image = np.clip(palette[labels] + shading + noise, 0, 255).astype(np.uint8)
    return image, labels, shapes


def _smooth(coarse: np.ndarray, size: Size) -> np.ndarray:
    """A coarse H' x W' x 3 field resized bilinearly to `size` (float32)."""
    height, width = size
    channels = [
        Image.fromarray(coarse[..., c], mode="F").resize((width, height), Image.BILINEAR) for c in range(3)
    ]
    return np.stack([np.asarray(c) for c in channels], axis=-1)


def _save(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if path.suffix.lower() == ".png":
        image.save(path)
    else:
        image.save(path, quality=JPEG_QUALITY)


def _write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


# -- Cityscapes ---------------------------------------------------------------------------------------

# labelIds of Cityscapes: flat / construction / sky bands, then objects (some never evaluated: 0, 4).
_CITY_BACKGROUND = (23, 11, 21, 7, 8)  # sky, building, vegetation, road, sidewalk
_CITY_OBJECTS = (24, 26, 26, 20, 17, 33, 13, 0, 4)  # person, car x2, sign, pole, bicycle, wall, void


def make_cityscapes(root: Path, files: int = 3, size: Size = CITYSCAPES_SIZE, seed: int = 0) -> Path:
    """`leftImg8bit/<split>/<city>/*_leftImg8bit.png` with their `gtFine/.../*_gtFine_labelIds.png`."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for k in range(files):
            image, labels, _ = scene(rng, size, _CITY_BACKGROUND, _CITY_OBJECTS, (0.05, 0.4), PNG_GRAIN)
            name = f"fake_{k:06d}_000019"
            _save(image, root / "leftImg8bit" / split / "fake" / f"{name}_leftImg8bit.png")
            _save(labels, root / "gtFine" / split / "fake" / f"{name}_gtFine_labelIds.png")
    return root


# -- COCO keypoints (pose) ----------------------------------------------------------------------------


def _person(shape: Shape, rng: np.random.Generator, ann_id: int, image_id: int) -> dict[str, Any]:
    """A person over `shape`'s box: 17 joints inside it, three of them unlabelled."""
    from hrnet_lit.pose.data.keypoints import COCO_JOINTS

    x, y, w, h = shape.box
    joints = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17), np.full(17, 2.0)], axis=1)
    joints[rng.choice(17, 3, replace=False)] = 0.0
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "bbox": [round(v, 1) for v in (x, y, w, h)],
        "area": round(w * h, 1),
        "iscrowd": 0,
        "num_keypoints": len(COCO_JOINTS) - 3,
        "keypoints": joints.round(1).reshape(-1).tolist(),
    }


def make_coco_keypoints(
    root: Path, files: int = 4, size: Size = COCO_SIZE, persons: int = 3, seed: int = 0
) -> Path:
    """`images/{train,val}2017/*.jpg` and `annotations/person_keypoints_{train,val}2017.json`: COCO's
    person category and `persons` labelled persons per image."""
    from hrnet_lit.pose.data.keypoints import COCO_JOINTS, COCO_SKELETON

    rng = np.random.default_rng(seed)
    category = {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(COCO_JOINTS),
        "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON],
    }
    for split in ("train", "val"):
        images, annotations = [], []
        for k in range(files):
            image_id = k + 1
            image, _, shapes = scene(rng, size, (1, 2), (3,) * persons, (0.3, 0.8))
            name = f"{image_id:012d}.jpg"
            _save(image, root / "images" / f"{split}2017" / name)
            images.append({"id": image_id, "file_name": name, "height": size[0], "width": size[1]})
            annotations += [_person(s, rng, 100 * image_id + j, image_id) for j, s in enumerate(shapes)]
        data = {"images": images, "annotations": annotations, "categories": [category]}
        _write_json(data, root / "annotations" / f"person_keypoints_{split}2017.json")
    return root


# -- ImageNet folders ---------------------------------------------------------------------------------


def make_imagenet(root: Path, files: int = 4, size: Size = IMAGENET_SIZE, seed: int = 0) -> Path:
    """`train/<wnid>/*.JPEG` for all 1000 ImageNet-1k classes and `val/<wnid>/*.JPEG` for the first
    `files`: `files` distinct JPEGs, hard-linked into every class folder (copied where links fail)."""
    from timm.data import ImageNetInfo

    rng = np.random.default_rng(seed)
    pool = root / "pool"
    sources = []
    for k in range(files):
        image, _, _ = scene(rng, size, (1, 2, 3), (4, 5), (0.3, 0.9))
        sources.append(pool / f"image_{k}.JPEG")
        _save(image, sources[-1])
    wnids = ImageNetInfo().label_names()
    for split, classes in (("train", wnids), ("val", wnids[:files])):
        for k, wnid in enumerate(classes):
            target = root / split / wnid / f"{wnid}_{k}.JPEG"
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(sources[k % files], target)
            except OSError:
                target.write_bytes(sources[k % files].read_bytes())
    return root


# -- COCO detection / instances -----------------------------------------------------------------------


def make_coco_detection(
    root: Path, files: int = 4, size: Size = COCO_SIZE, objects: int = 7, seed: int = 0
) -> Path:
    """`{train,val}2017/*.jpg` and `annotations/instances_{train,val}2017.json`: COCO's 80 categories
    and `objects` objects per image with boxes and polygon masks (the detection and instance formats)."""
    from hrnet_lit.detection.data.coco_categories import COCO_CATEGORIES

    rng = np.random.default_rng(seed)
    category_ids = list(COCO_CATEGORIES)
    categories = [{"id": i, "name": n, "supercategory": "thing"} for i, n in COCO_CATEGORIES.items()]
    for split in ("train", "val"):
        images, annotations = [], []
        for k in range(files):
            image_id = k + 1
            labels = [int(c) for c in rng.choice(category_ids, objects)]
            image, _, shapes = scene(rng, size, (91, 92), labels, (0.1, 0.6))
            name = f"{image_id:012d}.jpg"
            _save(image, root / f"{split}2017" / name)
            images.append({"id": image_id, "file_name": name, "height": size[0], "width": size[1]})
            for j, shape in enumerate(shapes):
                x, y, w, h = shape.box
                annotations.append(
                    {
                        "id": 100 * image_id + j,
                        "image_id": image_id,
                        "category_id": shape.label,
                        "bbox": [round(v, 1) for v in (x, y, w, h)],
                        "area": round(w * h / 2, 1),
                        "iscrowd": 0,
                        "segmentation": [shape.outline.reshape(-1).tolist()],
                    }
                )
        data = {"images": images, "annotations": annotations, "categories": categories}
        _write_json(data, root / "annotations" / f"instances_{split}2017.json")
    return root


# -- landmark CSVs (WFLW, 300W, AFLW) -----------------------------------------------------------------


def make_landmark_csv(
    root: Path, benchmark: str = "300w", files: int = 4, size: Size = FACE_SIZE, seed: int = 0
) -> Path:
    """`images/*.jpg` and the official CSVs of `benchmark` (`face_landmarks_<b>_train.csv` and its
    `_valid` (300W) or `_test` file): per face the image name, scale (box side / 200), [box size,]
    centre and the landmarks, spread over the face's ellipse."""
    from hrnet_lit.landmarks.data.specs import BENCHMARKS

    if benchmark not in ("wflw", "300w", "aflw"):
        raise InputError(f"benchmark={benchmark!r}: the CSV formats are wflw, 300w and aflw")
    spec = BENCHMARKS[benchmark]
    rng = np.random.default_rng(seed)
    header = [
        "image_name",
        "scale",
        *(["box_size"] if spec.normalization == "box" else []),
        "center_w",
        "center_h",
    ]
    header += [f"{axis}{k}" for k in range(spec.num_landmarks) for axis in ("x", "y")]
    val = "valid" if benchmark == "300w" else "test"
    for split in ("train", val):
        rows = []
        for k in range(files):
            image, _, shapes = scene(rng, size, (1, 2), (3,), (0.4, 0.7))
            name = f"{split}_{k}.jpg"
            _save(image, root / "images" / name)
            x, y, w, h = shapes[0].box
            side = max(w, h)
            angles = rng.uniform(0, 2 * np.pi, spec.num_landmarks)
            radii = rng.uniform(0.1, 0.45, spec.num_landmarks)
            points = np.stack(
                [x + w / 2 + radii * w * np.cos(angles), y + h / 2 + radii * h * np.sin(angles)], 1
            )
            box = [f"{side:.1f}"] if spec.normalization == "box" else []
            rows.append([name, f"{side / 200:.4f}", *box, f"{x + w / 2:.1f}", f"{y + h / 2:.1f}"])
            rows[-1] += [f"{v:.2f}" for v in points.reshape(-1)]
        path = root / f"face_landmarks_{benchmark}_{split}.csv"
        with path.open("w", newline="") as file:
            csv.writer(file).writerows([header, *rows])
    return root


# -- which maker a data module reads ------------------------------------------------------------------


@dataclass(frozen=True)
class FakeSet:
    """A data module class's format: its name, its maker, and the source size of its images."""

    name: str
    make: Callable[..., Path]
    size: Size
    options: Callable[[Any], dict[str, Any]] = lambda data: {}


FAKE_SETS: dict[str, FakeSet] = {
    "CityscapesDataModule": FakeSet("Cityscapes PNG", make_cityscapes, CITYSCAPES_SIZE),
    "COCOKeypointsDataModule": FakeSet("COCO keypoints JPEG", make_coco_keypoints, COCO_SIZE),
    "ImageNetDataModule": FakeSet("ImageNet folders JPEG", make_imagenet, IMAGENET_SIZE),
    "ClassificationFolderDataModule": FakeSet("ImageNet folders JPEG", make_imagenet, IMAGENET_SIZE),
    "CocoDataModule": FakeSet("COCO instances JPEG", make_coco_detection, COCO_SIZE),
    "CocoInstanceDataModule": FakeSet("COCO instances JPEG", make_coco_detection, COCO_SIZE),
    "LandmarkCSVDataModule": FakeSet(
        "landmark CSV JPEG", make_landmark_csv, FACE_SIZE, lambda data: {"benchmark": data.benchmark}
    ),
}


def make_fake_set(data: Any, root: Path, files: int, size: Size | None = None, seed: int = 0) -> Path:
    """The fake set that data module `data` (an instance) reads, written under `root`; `size` (H, W)
    replaces the format's source size. A data module without a maker is an `InputError`."""
    kind = FAKE_SETS.get(type(data).__name__)
    if kind is None:
        raise InputError(
            f"no fake set in the format of {type(data).__name__}; give the data with --data.root, or use "
            f"one of {', '.join(FAKE_SETS)}"
        )
    return kind.make(root, files=files, size=size or kind.size, seed=seed, **kind.options(data))
