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

from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from hrnet_lit.detection.data.coco import BadBoxes, CocoRecords, object_arrays
from hrnet_lit.errors import InputError
from hrnet_lit.instance.data.dataset import InstanceDataset, InstanceSample, InstanceTransform


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


class CocoInstances(CocoRecords, InstanceDataset):
    """Images under `image_dir` with the boxes and masks of the COCO-format json `annotation_file`.

    Fields are checked as the detection reader checks them, and every image file exists at setup.
    Images without annotations stay (they train as negatives); a json with none at all is refused.
    Args: `bad_boxes` as the module says; `transform`, `keep_crowd`: see `InstanceDataset`.
    """

    bad_items = ("annotation(s)", "annotations")
    scored = "mask mAP"
    drawn = "the boxes and masks"

    def __init__(
        self,
        image_dir: str | Path,
        annotation_file: str | Path,
        bad_boxes: BadBoxes = "error",
        transform: InstanceTransform | None = None,
        keep_crowd: bool = True,
    ) -> None:
        super().__init__(transform, keep_crowd)
        self.read_coco(image_dir, annotation_file, bad_boxes)

    def check_more(self, ann: dict[str, Any], where: str, height: int, width: int) -> tuple[Any, str | None]:
        """The segmentation, checked (`segmentation_problem`), kept as the annotation's `extra`."""
        try:
            return segmentation_problem(ann.get("segmentation"), height, width)
        except ValueError as error:
            raise InputError(f"{where}: segmentation: {error}") from None

    def raw(self, index: int) -> InstanceSample:
        image_id, name, width, height = self.images[index]
        image, anns = self.read_image(index)
        masks = []
        for ann in anns:
            try:
                masks.append(decode(ann.extra, height, width))
            except (ValueError, TypeError) as error:
                raise InputError(
                    f"{self.annotation_file}: annotation id {ann.ann_id} ({name}): cannot decode its "
                    f"segmentation: {error}"
                ) from None
        stacked = np.asarray(masks, dtype=np.uint8).reshape(-1, height, width)
        return InstanceSample(image, *object_arrays(anns), image_id, stacked)
