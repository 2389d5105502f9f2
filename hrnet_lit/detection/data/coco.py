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
_SHOWN = 10  # bad boxes listed in a report; the rest are counted

# COCO 2017's detection categories (id: name), as instances_{train,val}2017.json list them.
COCO_CATEGORIES: dict[int, str] = {
    1: "person",
    2: "bicycle",
    3: "car",
    4: "motorcycle",
    5: "airplane",
    6: "bus",
    7: "train",
    8: "truck",
    9: "boat",
    10: "traffic light",
    11: "fire hydrant",
    13: "stop sign",
    14: "parking meter",
    15: "bench",
    16: "bird",
    17: "cat",
    18: "dog",
    19: "horse",
    20: "sheep",
    21: "cow",
    22: "elephant",
    23: "bear",
    24: "zebra",
    25: "giraffe",
    27: "backpack",
    28: "umbrella",
    31: "handbag",
    32: "tie",
    33: "suitcase",
    34: "frisbee",
    35: "skis",
    36: "snowboard",
    37: "sports ball",
    38: "kite",
    39: "baseball bat",
    40: "baseball glove",
    41: "skateboard",
    42: "surfboard",
    43: "tennis racket",
    44: "bottle",
    46: "wine glass",
    47: "cup",
    48: "fork",
    49: "knife",
    50: "spoon",
    51: "bowl",
    52: "banana",
    53: "apple",
    54: "sandwich",
    55: "orange",
    56: "broccoli",
    57: "carrot",
    58: "hot dog",
    59: "pizza",
    60: "donut",
    61: "cake",
    62: "chair",
    63: "couch",
    64: "potted plant",
    65: "bed",
    67: "dining table",
    70: "toilet",
    72: "tv",
    73: "laptop",
    74: "mouse",
    75: "remote",
    76: "keyboard",
    77: "cell phone",
    78: "microwave",
    79: "oven",
    80: "toaster",
    81: "sink",
    82: "refrigerator",
    84: "book",
    85: "clock",
    86: "vase",
    87: "scissors",
    88: "teddy bear",
    89: "hair drier",
    90: "toothbrush",
}

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


class CocoDetection(DetectionDataset):
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
        if bad_boxes not in ("drop", "error"):
            raise InputError(f"data.bad_boxes={bad_boxes!r}: choose drop or error")
        self.image_dir = require_dir(Path(image_dir), COCO_LAYOUT)
        self.annotation_file = Path(annotation_file)
        data = read_json(self.annotation_file)
        self.category_ids, self.classes = read_categories(data, self.annotation_file)
        label_of = {c: k + 1 for k, c in enumerate(self.category_ids)}
        self.images = read_images(data, self.annotation_file)
        sizes = {i: (name, w, h) for i, name, w, h in self.images}
        self.annotations: dict[int, list[tuple[list[float], int, int, float]]] = defaultdict(list)
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
            box = [max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)]
            if w <= 0 or h <= 0:
                bad.append(f"{name} (annotation id {ann_id}): box {ann['bbox']} has zero area")
            elif box[2] <= box[0] or box[3] <= box[1]:
                where = f"{name} (annotation id {ann_id}): box {ann['bbox']}"
                bad.append(f"{where} lies outside the {width}x{height} image")
            else:
                self.annotations[image_id].append((box, label_of[category], crowd, area or w * h))
        unique([ann["id"] for ann in data["annotations"]], str(self.annotation_file), "annotation")
        if bad:
            self._report(bad, bad_boxes)
        if not self.annotations:
            left = " left once the bad boxes are dropped" if bad else ""
            raise InputError(
                f"{self.annotation_file}: no annotation{left} on its {len(self.images)} images: training "
                "would see negatives only, and mAP has nothing to score"
            )
        self._check_files()

    def _check_files(self) -> None:
        for image_id, name, _, _ in self.images:
            if not (self.image_dir / name).is_file():
                raise MissingInputError(
                    f"image {self.image_dir / name} (image id {image_id} of {self.annotation_file}) not found"
                )

    def _report(self, bad: list[str], bad_boxes: BadBoxes) -> None:
        more = f"\n  ... and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        listing = "\n  ".join(bad[:_SHOWN]) + more
        head = f"{self.annotation_file}: {len(bad)} bad box(es) (images under {self.image_dir})"
        if bad_boxes == "error":
            raise InputError(f"{head}:\n  {listing}\nfix them, or set data.bad_boxes=drop to leave them out")
        rank_zero_warn(f"{head}, dropped:\n  {listing}")

    def __len__(self) -> int:
        return len(self.images)

    def raw(self, index: int) -> RawSample:
        image_id, name, width, height = self.images[index]
        path = self.image_dir / name
        if not path.is_file():
            raise MissingInputError(f"image {path} (image id {image_id} of {self.annotation_file}) not found")
        image = np.array(read_rgb(path))
        if image.shape[:2] != (height, width):
            raise InputError(
                f"image {path} is {image.shape[1]}x{image.shape[0]}, but {self.annotation_file} says "
                f"{width}x{height} (image id {image_id}): the boxes would not fit it"
            )
        anns = self.annotations.get(image_id, [])
        return RawSample(
            image,
            np.asarray([a[0] for a in anns], dtype=np.float32).reshape(-1, 4),
            np.asarray([a[1] for a in anns], dtype=np.int64),
            np.asarray([a[2] for a in anns], dtype=np.int64),
            np.asarray([a[3] for a in anns], dtype=np.float32),
            image_id,
        )
