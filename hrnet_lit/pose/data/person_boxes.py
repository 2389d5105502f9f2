"""Person boxes from a detector: a COCO results json (`[{image_id, category_id, bbox, score}]`, or
`file_name` instead of `image_id` for a predict folder), checked entry by entry when it is read, or a
`PersonDetector` run over the images (`hrnet_lit.pose.person_detector`).

A box of zero or negative size has no crop (its affine map is singular), so it is refused with the
file, the detection's position and its image, as is a value of the wrong type or a non-finite number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from pycocotools.coco import COCO

from hrnet_lit.common.files import read_rgb
from hrnet_lit.common.json_fields import Fields, read_json_file, shown
from hrnet_lit.common.normalize import image_tensor
from hrnet_lit.errors import InputError
from hrnet_lit.pose.affine import box_to_center_scale
from hrnet_lit.pose.data.transforms import Person

if TYPE_CHECKING:
    from hrnet_lit.pose.person_detector import PersonDetector

log = logging.getLogger(__name__)

PERSON = 1  # COCO's person category id, what a predict folder's detections are assumed to use


@dataclass(frozen=True)
class PersonBox:
    """Detection `index` of its file: on image `image_id` (or the file `file_name`), box (x, y, w, h)."""

    index: int
    image_id: int | None
    file_name: str | None
    category_id: int | None
    box: tuple[float, float, float, float]
    score: float


def read_person_boxes(path: Path, key: str) -> list[PersonBox]:
    """Every detection of the json at `path` (given by the config key `key`), checked."""
    where = f"{key}: {path}"
    data = read_json_file(path, key)
    if not isinstance(data, list):
        raise InputError(
            f"{where} holds {shown(data)}, expected a list of detections "
            "[{image_id, category_id, bbox: [x, y, w, h], score}] (COCO's results format)"
        )
    boxes = []
    for k, det in enumerate(data):
        if not isinstance(det, dict):
            raise InputError(
                f"{where}: detection {k} is {shown(det)}, expected an object with image_id (or file_name), "
                "bbox and score"
            )
        image = det.get("image_id", det.get("file_name"))
        fields = Fields(
            det, f"{where}: detection {k}" + (f" (image {shown(image)})" if image is not None else "")
        )
        image_id = fields.integer("image_id", 0, default=None)
        file_name = fields.text("file_name", default=None)
        if image_id is None and file_name is None:
            raise InputError(f"{fields.where} has neither image_id nor file_name")
        x, y, w, h = fields.box("bbox", positive=True)
        category = fields.integer("category_id", default=None)
        boxes.append(
            PersonBox(k, image_id, file_name, category, (x, y, w, h), fields.number("score", default=1.0))
        )
    return boxes


def stem_of(name: str) -> str:
    """The key an image file is matched by: its stem, a numeric one zero-padded to 12 as COCO's names."""
    stem = Path(name).stem
    return f"{int(stem):012d}" if stem.isdigit() else stem


def boxes_by_stem(boxes: list[PersonBox], image_thre: float) -> dict[str, list[list[float]]]:
    """The person boxes scoring at least `image_thre`, as [x, y, w, h, score] by image file stem
    (`stem_of`); a COCO image id `n` names the file `<n zero-padded to 12>.jpg`, as COCO's are named."""
    grouped: dict[str, list[list[float]]] = {}
    for det in boxes:
        if det.category_id not in (None, PERSON) or det.score < image_thre:
            continue
        stem = stem_of(det.file_name) if det.file_name is not None else f"{det.image_id:012d}"
        grouped.setdefault(stem, []).append([*det.box, det.score])
    return grouped


def detected_persons(
    path: Path, coco: COCO, num_joints: int, aspect_ratio: float, image_thre: float, key: str
) -> list[Person]:
    """The person boxes of the detections json at `path` on `coco`'s images scoring at least
    `image_thre` (the official `_load_coco_person_detection_results`). None left is an error: the
    split would be scored on no crop at all."""
    category = next(c for c in coco.dataset["categories"] if c.get("keypoints"))["id"]
    people = [det for det in read_person_boxes(path, key) if det.category_id in (None, category)]
    return boxes_to_persons(people, coco, num_joints, aspect_ratio, image_thre, f"{key}: {path}")


def detector_persons(
    detector: PersonDetector,
    coco: COCO,
    load: Callable[[int], Image.Image],
    num_joints: int,
    aspect_ratio: float,
    key: str,
) -> list[Person]:
    """The boxes `detector` finds on each of `coco`'s images (`load(image_id)`), as the persons to
    crop: the official evaluation with detected boxes, the detector run here instead of beforehand."""
    people: list[PersonBox] = []
    for image_id in sorted(coco.imgs):
        for x1, y1, x2, y2, score in detector(image_tensor(np.array(load(image_id)))).tolist():
            people.append(PersonBox(len(people), image_id, None, None, (x1, y1, x2 - x1, y2 - y1), score))
    return boxes_to_persons(
        people, coco, num_joints, aspect_ratio, detector.image_thre, f"{key}: {detector.source}"
    )


def detector_boxes_by_stem(detector: PersonDetector, paths: list[Path]) -> dict[str, list[list[float]]]:
    """The boxes `detector` finds on each image file, as `boxes_by_stem` gives a json's: [x, y, w, h,
    score] by file stem; a file with no person has no entry."""
    grouped: dict[str, list[list[float]]] = {}
    for path in paths:
        found = detector(image_tensor(np.array(read_rgb(path)))).tolist()
        if found:
            grouped[stem_of(path.name)] = [[x1, y1, x2 - x1, y2 - y1, s] for x1, y1, x2, y2, s in found]
    return grouped


def boxes_to_persons(
    people: list[PersonBox], coco: COCO, num_joints: int, aspect_ratio: float, image_thre: float, where: str
) -> list[Person]:
    """The detections (of the person category) on `coco`'s images scoring at least `image_thre`, as
    crops; `where` names their source in errors."""
    persons = []
    for det in people:
        if det.score < image_thre:
            continue
        if det.image_id not in coco.imgs:
            image = det.image_id if det.image_id is not None else det.file_name
            raise InputError(
                f"{where}: detection {det.index} is on image {shown(image)}, which the annotations do not "
                "list (evaluation boxes are matched by image_id)"
            )
        box = np.asarray(det.box, dtype=np.float64)
        center, scale = box_to_center_scale(box, aspect_ratio)
        persons.append(Person(center, scale, np.zeros((num_joints, 3)), box, det.score, det.image_id, -1))
    if not persons:
        best = max((det.score for det in people), default=None)
        found = (
            f"the best of its {len(people)} person detections scores {best}"
            if people
            else "no person detection"
        )
        raise InputError(
            f"{where}: {found}, and crops need a score >= data.image_thre={image_thre}: "
            "there would be nothing to score"
        )
    log.info("%s: %d person boxes scoring >= %s", where, len(persons), image_thre)
    return persons
