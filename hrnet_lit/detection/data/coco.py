"""COCO-format detection data: COCO itself (`instances_{train,val}2017.json`) or anyone's images with
a COCO-format json.

The json is read and checked once, when the dataset is built, so a wrong file fails before the first
step and names the key, image or annotation. Category ids (COCO's run 1 ... 90 with gaps) become the
labels 1 ... K in id order; `category_ids` maps them back for the results json. A box that lies
partly outside its image is clipped to it; a box with zero area, or none left inside the image, is
reported with its file and annotation id, then dropped (`bad_boxes="drop"`) or refused (`"error"`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from lightning.pytorch.utilities import rank_zero_warn

from hrnet_lit.common.files import read_rgb, require_dir
from hrnet_lit.common.json_fields import Fields, read_json_file, records, unique
from hrnet_lit.detection.data.dataset import DetectionDataset
from hrnet_lit.detection.data.transforms import DetectionTransform, RawSample
from hrnet_lit.errors import InputError, MissingInputError

BadBoxes = Literal["drop", "error"]
_SHOWN = 10  # bad boxes (or annotations) listed in a report; the rest are counted

COCO_LAYOUT = """\
<root>/
  annotations/instances_train2017.json
  annotations/instances_val2017.json
  train2017/*.jpg
  val2017/*.jpg"""


def read_json(path: Path) -> dict[str, Any]:
    """The json at `path`, checked to be an object with `images`, `annotations` and `categories` lists
    of objects (`images` not empty)."""
    data = read_json_file(path, "annotation file")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a COCO json object with images, annotations, categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError(f"{path}: no {key!r} list (is this a COCO detection json?)")
        records(data[key], str(path), key, allow_empty=key == "annotations")
    return data


def read_categories(data: dict[str, Any], path: Path) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(category ids, names) in id order; the label of the k-th is k + 1."""
    pairs = []
    for k, category in enumerate(data["categories"]):
        category_id = Fields(category, f"{path}: categories[{k}]").integer("id")
        pairs.append((category_id, Fields(category, f"{path}: category {category_id}").text("name")))
    unique([i for i, _ in pairs], str(path), "category")
    pairs.sort()
    return tuple(i for i, _ in pairs), tuple(n for _, n in pairs)


def read_images(data: dict[str, Any], path: Path) -> list[tuple[int, str, int, int]]:
    """(id, file name, width, height) of every image, the ids unique."""
    images = []
    for k, record in enumerate(data["images"]):
        image_id = Fields(record, f"{path}: images[{k}]").integer("id")
        fields = Fields(record, f"{path}: image {image_id}")
        images.append(
            (image_id, fields.text("file_name"), fields.integer("width", 1), fields.integer("height", 1))
        )
    unique([i for i, *_ in images], str(path), "image")
    return images


@dataclass(frozen=True)
class Annotation:
    """One annotation as the json gives it, checked: its box clipped to the image (xyxy), and what a
    subclass's `check_more` keeps of it (`extra`: the instance task's segmentation)."""

    ann_id: int
    box: tuple[float, float, float, float]
    label: int
    iscrowd: int
    area: float
    extra: Any = None


def object_arrays(anns: list[Annotation]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The boxes (N, 4), labels, crowd flags and areas (N) of `anns`, as a sample holds them."""
    return (
        np.asarray([a.box for a in anns], dtype=np.float32).reshape(-1, 4),
        np.asarray([a.label for a in anns], dtype=np.int64),
        np.asarray([a.iscrowd for a in anns], dtype=np.int64),
        np.asarray([a.area for a in anns], dtype=np.float32),
    )


class CocoRecords:
    """What the COCO-format datasets share: the json read and every annotation checked (`read_coco`),
    bad ones reported, every image file checked at setup, and an image read against its record.

    Subclasses name what a report counts (`bad_items`: counted, plural), what the missing annotations
    leave unscored (`scored`) and what a wrong image size breaks (`drawn`); `check_more` adds their own
    checks of an annotation.
    """

    bad_items = ("box(es)", "boxes")
    scored = "mAP"
    drawn = "the boxes"
    image_dir: Path
    annotation_file: Path
    images: list[tuple[int, str, int, int]]
    annotations: dict[int, list[Annotation]]

    def read_coco(self, image_dir: str | Path, annotation_file: str | Path, bad_boxes: BadBoxes) -> None:
        """Reads and checks the json: sets `category_ids`, `classes`, `images` and `annotations` (per
        image id, the bad ones reported, then dropped or refused), and checks every image file."""
        if bad_boxes not in ("drop", "error"):
            raise InputError(f"data.bad_boxes={bad_boxes!r}: choose drop or error")
        self.image_dir = require_dir(Path(image_dir), COCO_LAYOUT)
        self.annotation_file = Path(annotation_file)
        data = read_json(self.annotation_file)
        self.category_ids, self.classes = read_categories(data, self.annotation_file)
        label_of = {c: k + 1 for k, c in enumerate(self.category_ids)}
        self.images = read_images(data, self.annotation_file)
        sizes = {i: (name, w, h) for i, name, w, h in self.images}
        self.annotations = defaultdict(list)
        bad: list[str] = []
        for k, ann in enumerate(data["annotations"]):
            ann_id = Fields(ann, f"{self.annotation_file}: annotations[{k}]").integer("id")
            fields = Fields(ann, f"{self.annotation_file}: annotation id {ann_id}")
            image_id, category = fields.integer("image_id"), fields.integer("category_id")
            if image_id not in sizes:
                raise InputError(
                    f"{fields.where} refers to image id {image_id}, which 'images' does not list"
                )
            if category not in label_of:
                raise InputError(
                    f"{fields.where} has category_id {category}, which 'categories' does not list"
                )
            x, y, w, h = fields.numbers("bbox", 4)
            crowd = fields.integer("iscrowd", 0, default=0)
            if crowd > 1:
                raise fields.wrong("iscrowd", crowd, "0 or 1")
            area = fields.number("area", 0.0, default=None)
            name, width, height = sizes[image_id]
            extra, problem = self.check_more(ann, f"{fields.where} ({name})", height, width)
            box = (max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height))
            if w <= 0 or h <= 0:
                problem = f"box {ann['bbox']} has zero area"
            elif box[2] <= box[0] or box[3] <= box[1]:
                problem = f"box {ann['bbox']} lies outside the {width}x{height} image"
            if problem:
                bad.append(f"{name} (annotation id {ann_id}): {problem}")
                continue
            annotation = Annotation(ann_id, box, label_of[category], crowd, area or w * h, extra)
            self.annotations[image_id].append(annotation)
        unique([ann["id"] for ann in data["annotations"]], str(self.annotation_file), "annotation")
        if bad:
            self._report(bad, bad_boxes)
        if not self.annotations:
            left = f" left once the bad {self.bad_items[1]} are dropped" if bad else ""
            raise InputError(
                f"{self.annotation_file}: no annotation{left} on its {len(self.images)} images: training "
                f"would see negatives only, and {self.scored} has nothing to score"
            )
        self._check_files()

    def check_more(self, ann: dict[str, Any], where: str, height: int, width: int) -> tuple[Any, str | None]:
        """(what to keep of `ann` as `Annotation.extra`, a problem that makes it bad or None); `where`
        names the annotation and its image file. Checked before the box, whose problem comes first."""
        return None, None

    def _check_files(self) -> None:
        for image_id, name, _, _ in self.images:
            if not (self.image_dir / name).is_file():
                raise MissingInputError(
                    f"image {self.image_dir / name} (image id {image_id} of {self.annotation_file}) not found"
                )

    def _report(self, bad: list[str], bad_boxes: BadBoxes) -> None:
        more = f"\n  ... and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        listing = "\n  ".join(bad[:_SHOWN]) + more
        head = f"{self.annotation_file}: {len(bad)} bad {self.bad_items[0]} (images under {self.image_dir})"
        if bad_boxes == "error":
            raise InputError(f"{head}:\n  {listing}\nfix them, or set data.bad_boxes=drop to leave them out")
        rank_zero_warn(f"{head}, dropped:\n  {listing}")

    def read_image(self, index: int) -> tuple[np.ndarray, list[Annotation]]:
        """Image `index` as uint8 RGB (H, W, 3), checked against its record's size, and its kept
        annotations."""
        image_id, name, width, height = self.images[index]
        path = self.image_dir / name
        if not path.is_file():
            raise MissingInputError(f"image {path} (image id {image_id} of {self.annotation_file}) not found")
        image = np.array(read_rgb(path))
        if image.shape[:2] != (height, width):
            raise InputError(
                f"image {path} is {image.shape[1]}x{image.shape[0]}, but {self.annotation_file} says "
                f"{width}x{height} (image id {image_id}): {self.drawn} would not fit it"
            )
        return image, self.annotations.get(image_id, [])

    def __len__(self) -> int:
        return len(self.images)


class CocoDetection(CocoRecords, DetectionDataset):
    """Images under `image_dir` with the boxes of the COCO-format json `annotation_file`.

    Every field is checked when the json is read, and every image file is checked to exist, so a wrong
    json or a missing image stops the run at setup, not at the batch that needs it. Images without
    annotations stay (they train as negatives), but a json with no box at all is refused: it would
    train on negatives only, or leave mAP undefined. Args: `bad_boxes` as the module says;
    `transform`, `keep_crowd`: see `DetectionDataset`.
    """

    def __init__(
        self,
        image_dir: str | Path,
        annotation_file: str | Path,
        bad_boxes: BadBoxes = "error",
        transform: DetectionTransform | None = None,
        keep_crowd: bool = True,
    ) -> None:
        super().__init__(transform, keep_crowd)
        self.read_coco(image_dir, annotation_file, bad_boxes)

    def raw(self, index: int) -> RawSample:
        image, anns = self.read_image(index)
        return RawSample(image, *object_arrays(anns), self.images[index][0])
