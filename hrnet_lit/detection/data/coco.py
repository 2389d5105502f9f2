"""COCO-format detection data: COCO itself (`instances_{train,val}2017.json`) or anyone's images with
a COCO-format json.

The json is read and checked once, when the dataset is built, so a wrong file fails before the first
step and names the key, image or annotation. Category ids (COCO's run 1 ... 90 with gaps) become the
labels 1 ... K in id order; `category_ids` maps them back for the results json. A box that lies
partly outside its image is clipped to it; a box with zero area, or none left inside the image, is
reported with its file and annotation id, then dropped (`bad_boxes="drop"`) or refused (`"error"`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
from lightning.pytorch.utilities import rank_zero_warn

from hrnet_lit.common.files import open_image, require_dir
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


def _field(record: dict[str, Any], key: str, where: str) -> Any:
    if key not in record:
        raise InputError(f"{where} has no {key!r}")
    return record[key]


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MissingInputError(f"annotation file {path} not found")
    try:
        with path.open() as file:
            data = json.load(file)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read annotation file {path}: {error}") from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a COCO json object with images, annotations, categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError(f"{path}: no {key!r} list (is this a COCO detection json?)")
    return data


def read_categories(data: dict[str, Any], path: Path) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(category ids, names) in id order; the label of the k-th is k + 1."""
    pairs = sorted(
        (int(_field(c, "id", f"{path}: a category")), str(_field(c, "name", f"{path}: a category")))
        for c in data["categories"]
    )
    if not pairs:
        raise InputError(f"{path}: 'categories' is empty")
    ids = tuple(i for i, _ in pairs)
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: category ids repeat: {ids}")
    return ids, tuple(n for _, n in pairs)


class CocoDetection(DetectionDataset):
    """Images under `image_dir` with the boxes of the COCO-format json `annotation_file`.

    Images without annotations stay (they train as negatives). Args: `bad_boxes` as the module says;
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
        self.images: list[tuple[int, str, int, int]] = []  # (id, file name, width, height)
        for record in data["images"]:
            where = f"{self.annotation_file}: an image"
            self.images.append(
                (
                    int(_field(record, "id", where)),
                    str(_field(record, "file_name", where)),
                    int(_field(record, "width", where)),
                    int(_field(record, "height", where)),
                )
            )
        sizes = {i: (name, w, h) for i, name, w, h in self.images}
        self.annotations: dict[int, list[tuple[list[float], int, int, float]]] = defaultdict(list)
        bad: list[str] = []
        for ann in data["annotations"]:
            ann_id = _field(ann, "id", f"{self.annotation_file}: an annotation")
            where = f"{self.annotation_file}: annotation id {ann_id}"
            image_id, category = int(_field(ann, "image_id", where)), int(_field(ann, "category_id", where))
            if image_id not in sizes:
                raise InputError(f"{where} refers to image id {image_id}, which 'images' does not list")
            if category not in label_of:
                raise InputError(f"{where} has category_id {category}, which 'categories' does not list")
            bbox = _field(ann, "bbox", where)
            if not (isinstance(bbox, list) and len(bbox) == 4):
                raise InputError(f"{where}: bbox must be [x, y, width, height], got {bbox!r}")
            name, width, height = sizes[image_id]
            x, y, w, h = (float(v) for v in bbox)
            box = [max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)]
            if w <= 0 or h <= 0:
                bad.append(f"{name} (annotation id {ann_id}): box {bbox} has zero area")
            elif box[2] <= box[0] or box[3] <= box[1]:
                bad.append(
                    f"{name} (annotation id {ann_id}): box {bbox} lies outside the {width}x{height} image"
                )
            else:
                area = float(ann.get("area") or w * h)
                self.annotations[image_id].append((box, label_of[category], int(ann.get("iscrowd", 0)), area))
        if bad:
            self._report(bad, bad_boxes)

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
        with open_image(path) as file:
            image = np.array(file.convert("RGB"))
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
