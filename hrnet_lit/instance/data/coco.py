"""COCO-format instance data: COCO itself (`instances_{train,val}2017.json`) or anyone's images with a
COCO-format json whose annotations carry `segmentation` masks, as polygons or RLE (pycocotools).

The json is read and checked once, when the dataset is built (the detection task's reader: the same
categories, labels, image records and box checks), so that a wrong file fails before the first
step and names the file and annotation id. A `segmentation` of the wrong shape (not polygons, not
an RLE of the image's size) is refused; an annotation whose polygons all have fewer than three
points (a few of COCO's) is reported with the box problems, then dropped (`bad_boxes="drop"`) or
refused (`"error"`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.utilities import rank_zero_warn
from pycocotools import mask as coco_mask

from hrnet_lit.common.files import read_rgb, require_dir
from hrnet_lit.common.json_fields import Fields, unique
from hrnet_lit.detection.data.coco import COCO_LAYOUT, BadBoxes, read_categories, read_images, read_json
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.instance.data.dataset import InstanceDataset, InstanceSample, InstanceTransform

_SHOWN = 10  # bad annotations listed in a report; the rest are counted


@dataclass(frozen=True)
class Instance:
    """One annotation as the json gives it, checked: its box clipped to the image (xyxy)."""

    ann_id: Any
    box: tuple[float, float, float, float]
    label: int
    iscrowd: int
    area: float
    segmentation: Any


def segmentation_problem(segmentation: Any, height: int, width: int) -> tuple[Any, str | None]:
    """(the segmentation with polygons of under three points left out, what is wrong with it or None).

    A shape that is no COCO segmentation at all is an `InputError` (raised by the caller with the
    annotation's name); a polygon too short to enclose pixels is reported as bad."""
    if isinstance(segmentation, list):
        if not all(isinstance(p, list) and all(isinstance(v, int | float) for v in p) for p in segmentation):
            raise ValueError("polygons must be lists of numbers [x1, y1, x2, y2, ...]")
        if any(len(p) % 2 for p in segmentation):
            raise ValueError("a polygon has an odd number of coordinates")
        kept = [p for p in segmentation if len(p) >= 6]
        return kept, None if kept else "no polygon with three points or more"
    if isinstance(segmentation, dict) and {"counts", "size"} <= set(segmentation):
        size, counts = segmentation["size"], segmentation["counts"]
        if list(size) != [height, width]:
            raise ValueError(f"RLE size {size} is not the image's [height, width] [{height}, {width}]")
        if isinstance(counts, list):
            if sum(counts) != height * width:
                raise ValueError(f"uncompressed RLE counts sum to {sum(counts)}, not {height} x {width}")
        elif not isinstance(counts, str | bytes):
            raise ValueError("RLE counts must be a list (uncompressed) or a string (compressed)")
        return segmentation, None
    raise ValueError("expected a list of polygons or an RLE {'counts', 'size'}")


def decode(segmentation: Any, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 mask of a checked polygon list or RLE (as COCO's own `annToMask`)."""
    if isinstance(segmentation, list):
        rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = coco_mask.frPyObjects(segmentation, height, width)
    else:
        counts = segmentation["counts"]
        rle = {"size": segmentation["size"], "counts": counts.encode() if isinstance(counts, str) else counts}
    return coco_mask.decode(rle)


class CocoInstances(InstanceDataset):
    """Images under `image_dir` with the boxes and masks of the COCO-format json `annotation_file`.

    Fields are checked as the detection reader checks them, and every image file exists at setup.
    Images without annotations stay (they train as negatives); a json with none at all is refused.
    Args: `bad_boxes` as the module says; `transform`, `keep_crowd`: see `InstanceDataset`.
    """

    def __init__(
        self,
        image_dir: str | Path,
        annotation_file: str | Path,
        bad_boxes: BadBoxes = "error",
        transform: InstanceTransform | None = None,
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
        self.annotations: dict[int, list[Instance]] = defaultdict(list)
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
            try:
                segmentation, problem = segmentation_problem(ann.get("segmentation"), height, width)
            except ValueError as error:
                raise InputError(f"{fields.where} ({name}): segmentation: {error}") from None
            box = (max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height))
            if w <= 0 or h <= 0:
                problem = f"box {ann['bbox']} has zero area"
            elif box[2] <= box[0] or box[3] <= box[1]:
                problem = f"box {ann['bbox']} lies outside the {width}x{height} image"
            if problem:
                bad.append(f"{name} (annotation id {ann_id}): {problem}")
                continue
            instance = Instance(ann_id, box, label_of[category], crowd, area or w * h, segmentation)
            self.annotations[image_id].append(instance)
        unique([ann["id"] for ann in data["annotations"]], str(self.annotation_file), "annotation")
        if bad:
            self._report(bad, bad_boxes)
        if not self.annotations:
            left = " left once the bad annotations are dropped" if bad else ""
            raise InputError(
                f"{self.annotation_file}: no annotation{left} on its {len(self.images)} images: training "
                "would see negatives only, and mask mAP has nothing to score"
            )
        for image_id, name, _, _ in self.images:  # every file at setup, not at the batch that needs it
            if not (self.image_dir / name).is_file():
                raise MissingInputError(
                    f"image {self.image_dir / name} (image id {image_id} of {self.annotation_file}) not found"
                )

    def _report(self, bad: list[str], bad_boxes: BadBoxes) -> None:
        more = f"\n  ... and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        listing = "\n  ".join(bad[:_SHOWN]) + more
        head = f"{self.annotation_file}: {len(bad)} bad annotation(s) (images under {self.image_dir})"
        if bad_boxes == "error":
            raise InputError(f"{head}:\n  {listing}\nfix them, or set data.bad_boxes=drop to leave them out")
        rank_zero_warn(f"{head}, dropped:\n  {listing}")

    def __len__(self) -> int:
        return len(self.images)

    def raw(self, index: int) -> InstanceSample:
        image_id, name, width, height = self.images[index]
        path = self.image_dir / name
        if not path.is_file():
            raise MissingInputError(f"image {path} (image id {image_id} of {self.annotation_file}) not found")
        image = np.array(read_rgb(path))
        if image.shape[:2] != (height, width):
            raise InputError(
                f"image {path} is {image.shape[1]}x{image.shape[0]}, but {self.annotation_file} says "
                f"{width}x{height} (image id {image_id}): the boxes and masks would not fit it"
            )
        anns = self.annotations.get(image_id, [])
        masks = []
        for ann in anns:
            try:
                masks.append(decode(ann.segmentation, height, width))
            except (ValueError, TypeError) as error:
                raise InputError(
                    f"{self.annotation_file}: annotation id {ann.ann_id} ({name}): cannot decode its "
                    f"segmentation: {error}"
                ) from None
        return InstanceSample(
            image,
            np.asarray([a.box for a in anns], dtype=np.float32).reshape(-1, 4),
            np.asarray([a.label for a in anns], dtype=np.int64),
            np.asarray([a.iscrowd for a in anns], dtype=np.int64),
            np.asarray([a.area for a in anns], dtype=np.float32),
            image_id,
            np.asarray(masks, dtype=np.uint8).reshape(-1, height, width),
        )
