"""Property tests over the data files a user brings: random corruptions of a valid COCO keypoints json and
a COCO detection json (fields deleted, wrong types, NaN / negative / huge numbers, empty lists, duplicate
and unknown ids), of person-box files, and predict folders of random bytes, truncated images and every
mode and bit depth PIL writes. Each either loads, and then every sample of it can be served (and the
pose val split scored), or raises an `InputError` that names the file and the record; never another
exception.

`derandomize=True` and no example database make every run draw the same examples; the bad-input table
(tests/test_bad_input_data.py) keeps one row per bug these found.
"""

from __future__ import annotations

import copy
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from data_trees import claimed_huge_png, detection_json, detection_tree, pose_json, pose_tree, write_json
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from hrnet_lit.classification.data import SyntheticClassesDataModule
from hrnet_lit.detection.data import CocoFormatDataModule, SyntheticDetectionDataModule
from hrnet_lit.errors import InputError
from hrnet_lit.pose.data import COCOKeypointsDataModule, SyntheticPoseDataModule
from hrnet_lit.pose.metrics import COCOKeypointAP


def fixed(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- corruptions of a json -------------------------------------------------------------------------

JUNK = st.sampled_from(
    ["", "7", "x", None, True, [], {}, [1, 2], {"a": 1}, math.nan, math.inf, -math.inf, -1, 0, -0.5, 2.5,
     1e300, -1e300, 2**63, 10**30, 999, 1]
)  # fmt: skip


@st.composite
def corruption(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with one to three random changes to a record's field, a list element, a record or a section."""
    out = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(["images", "annotations", "annotations", "categories"]))
        items = out.get(section)
        kind = draw(st.sampled_from(["field", "field", "field", "element", "record", "section"]))
        if kind == "section" or not isinstance(items, list) or not items:
            out[section] = draw(st.sampled_from([[], {}, "x", None, [1], [[]]]))
            continue
        index = draw(st.integers(0, len(items) - 1))
        record = items[index]
        if kind == "record" or not isinstance(record, dict):
            what = draw(st.sampled_from(["delete", "duplicate", "junk"]))
            if what == "delete":
                items.pop(index)
            elif what == "duplicate":
                items.append(copy.deepcopy(record))
            else:
                items[index] = draw(JUNK)
            continue
        keys = [*sorted(record), "id", "image_id", "category_id"]
        key = draw(st.sampled_from(keys))
        if kind == "element" and isinstance(record.get(key), list) and record[key]:
            position = draw(st.integers(0, len(record[key]) - 1))
            record[key][position] = draw(JUNK)
        elif draw(st.booleans()):
            record.pop(key, None)
        else:
            other = [r.get("id") for r in items if isinstance(r, dict)]
            record[key] = draw(st.one_of(JUNK, st.sampled_from(other or [0])))  # junk, or an id that repeats
    return out


def names_the_record(message: str, file_name: str) -> bool:
    return file_name in message and re.search(r"annotation|image|categor|detection", message) is not None


def served(dataset: torch.utils.data.Dataset) -> None:
    for index in range(len(dataset)):
        dataset[index]


# -- pose: COCO keypoints json ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pose_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pose_tree(tmp_path_factory.mktemp("pose"))


def score_ground_truth(data: COCOKeypointsDataModule) -> None:
    """COCOeval of the val persons against their own json (reads iscrowd, area, num_keypoints, ...)."""
    metric = COCOKeypointAP(list(data.spec.sigmas))
    for person in data.dataset("val").persons:
        joints = torch.from_numpy(person.joints).float()[None]
        metric.update(
            joints, torch.from_numpy(person.scale)[None], torch.ones(1), torch.tensor([person.image_id])
        )
    metric.ground_truth, metric.expected = data.ground_truth("val"), len(data.dataset("val"))
    assert 0.0 <= float(metric.compute()["AP"]) <= 1.0


@fixed(150)
@given(st.data())
def test_a_corrupted_coco_keypoints_json_loads_or_is_named(pose_root: Path, data: st.DataObject) -> None:
    split = data.draw(st.sampled_from(["train", "val"]))
    path = pose_root / "annotations" / f"person_keypoints_{split}2017.json"
    valid = pose_json(1 if split == "train" else 3)
    write_json(path, data.draw(corruption(valid)))
    try:
        module = COCOKeypointsDataModule(root=str(pose_root), input_size=(64, 48), num_workers=0)
        module.setup("fit")
        served(module.dataset("train"))
        served(module.dataset("val"))
        score_ground_truth(module)
        event("loaded")
    except InputError as error:
        event("refused")
        assert names_the_record(str(error), path.name), str(error)
    finally:
        write_json(path, valid)


# -- detection: COCO instances json -----------------------------------------------------------------


@pytest.fixture(scope="module")
def detection_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return detection_tree(tmp_path_factory.mktemp("det"))


@fixed(150)
@given(st.data())
def test_a_corrupted_coco_detection_json_loads_or_is_named(
    detection_paths: dict[str, str], data: st.DataObject
) -> None:
    split = data.draw(st.sampled_from(["train", "val"]))
    path = Path(detection_paths[f"{split}_annotations"])
    valid = detection_json(1 if split == "train" else 3)
    write_json(path, data.draw(corruption(valid)))
    try:
        module = CocoFormatDataModule(**detection_paths, batch_size=1, num_workers=0)
        module.setup("fit")
        served(module.dataset("train"))
        served(module.dataset("val"))
        event("loaded")
    except InputError as error:
        event("refused")
        assert names_the_record(str(error), path.name) or "categories" in str(error), str(error)
    finally:
        write_json(path, valid)


# -- pose: person boxes ----------------------------------------------------------------------------

NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 0.0, -1, 1e-300, 5, 20, 40]),
)
VALUE = st.one_of(
    NUMBER, st.text(max_size=3), st.none(), st.booleans(), st.lists(st.integers(0, 5), max_size=2)
)


@st.composite
def detection_entry(draw: st.DrawFn) -> Any:
    """A detection as a detector writes it (image 3 or 4, or the predict file good.png), or junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(VALUE)
    entry: dict[str, Any] = {}
    if draw(st.booleans()):
        entry["image_id"] = draw(st.one_of(st.sampled_from([3, 4, 3.0, 77]), VALUE))
    else:
        entry["file_name"] = draw(st.one_of(st.just("good.png"), VALUE))
    if draw(st.integers(0, 4)):
        entry["bbox"] = draw(
            st.one_of(
                st.lists(st.sampled_from([5, 10, 30, 36.5]), min_size=4, max_size=4),
                st.lists(NUMBER, min_size=4, max_size=4),
                st.lists(VALUE, min_size=0, max_size=5),
                VALUE,
            )
        )
    for key, value in (
        ("score", st.one_of(st.floats(0, 1), VALUE)),
        ("category_id", st.one_of(st.just(1), VALUE)),
    ):
        if draw(st.booleans()):
            entry[key] = draw(value)
    return entry


BOXES_FILE = st.one_of(
    st.lists(detection_entry(), max_size=4), VALUE, st.dictionaries(st.text(max_size=3), VALUE)
)


@fixed(200)
@given(st.data())
def test_a_person_boxes_file_loads_or_is_named(
    pose_root: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    boxes = write_json(tmp_path_factory.getbasetemp() / "person_boxes.json", data.draw(BOXES_FILE))
    folder = tmp_path_factory.getbasetemp() / "predict_good"
    if not folder.is_dir():
        folder.mkdir()
        Image.new("RGB", (40, 30), (90, 20, 200)).save(folder / "good.png")
    image_thre = data.draw(st.sampled_from([0.0, 0.5]))
    module = COCOKeypointsDataModule(
        root=str(pose_root),
        input_size=(64, 48),
        num_workers=0,
        person_boxes=str(boxes),
        image_thre=image_thre,
        predict_dir=str(folder),
    )
    for serve in (lambda: (module.setup("validate"), served(module.dataset("val"))),
                  lambda: served(module.predict_dataloader().dataset)):  # fmt: skip
        try:
            serve()
            event("loaded")
        except InputError as error:
            event("refused")
            assert "person_boxes.json" in str(error), str(error)


# -- predict folders: every mode, bit depth, truncation and random bytes ----------------------------

PNG_MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]
JPEG_MODES = ["L", "RGB", "CMYK"]


@st.composite
def image_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file name, bytes): an image of any mode PIL writes, maybe cut short, or random bytes."""
    kind = draw(st.sampled_from(["png", "png", "jpg", "bytes", "huge"]))
    if kind == "bytes":
        return draw(st.sampled_from(["r.png", "r.jpg"])), draw(st.binary(max_size=200))
    if kind == "huge":
        return "huge.png", claimed_huge_png()
    mode = draw(st.sampled_from(PNG_MODES if kind == "png" else JPEG_MODES))
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 3))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    if mode == "I;16":
        image = Image.fromarray(
            np.random.default_rng(seed).integers(0, 65536, (height, width), dtype=np.uint16)
        )
    buffer = io.BytesIO()
    image.save(buffer, "PNG" if kind == "png" else "JPEG")
    content = buffer.getvalue()
    if draw(st.booleans()):
        content = content[: draw(st.integers(0, len(content) - 1))]
    return f"{mode.replace(';', '_')}.{kind}", content


@pytest.fixture(scope="module")
def predict_modules() -> list[Any]:
    return [
        SyntheticPoseDataModule(num_workers=0, input_size=(32, 24)),
        SyntheticClassesDataModule(num_workers=0, image_size=16),
        SyntheticDetectionDataModule(num_workers=0),
    ]


@fixed(150)
@given(st.data())
def test_a_predict_folder_loads_or_names_the_file(
    predict_modules: list[Any], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp("predict")
    name, content = data.draw(image_file())
    (folder / name).write_bytes(content)
    for module in predict_modules:
        module.predict_dir = str(folder)
        try:
            served(module.predict_dataloader().dataset)
            event("loaded")
        except InputError as error:
            event("refused")
            assert name in str(error), str(error)
