"""MPII Human Pose in the official layout: the official json annotations (per person `image`, `center`,
`scale`, `joints`, `joints_vis`; MATLAB's 1-based pixels) and, for PCKh, the official `gt_valid.mat`
(its head boxes and missing-joint flags, which the json does not carry).

The person crop is the official one: the centre moved down by 15 x scale and the scale padded by 1.25
(the official "avoid cropping limbs"), then both made 0-based. The annotations also become a COCO
keypoints index (box: the padded crop square), so the pose task's COCO AP runs on MPII as well; MPII's
benchmark is PCKh (`val/PCKh`), and AP on it uses the OKS sigmas mmpose gives MPII's joints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pycocotools.coco import COCO

from hrnet_lit.common.files import require_dir
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.pose.affine import PIXEL_STD
from hrnet_lit.pose.data.coco import coco_from_dict, image_loader
from hrnet_lit.pose.data.datamodules import PoseDataModule
from hrnet_lit.pose.data.dataset import TopDownDataset
from hrnet_lit.pose.data.keypoints import KeypointSpec
from hrnet_lit.pose.data.transforms import Person, TopDownTransform
from hrnet_lit.pose.pckh import HEAD_SIZE_BIAS

MPII_JOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
    "left_elbow", "left_wrist",
)  # fmt: skip
# mmpose's OKS sigmas for MPII's joints (MPII itself defines none: AP on MPII is not its benchmark).
MPII_SIGMAS: tuple[float, ...] = (
    0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062, 0.072, 0.179, 0.179,
    0.072, 0.062,
)  # fmt: skip
MPII_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (10, 11), (11, 12),
    (12, 7), (7, 13), (13, 14), (14, 15),
)  # fmt: skip
MPII_SPEC = KeypointSpec(
    MPII_JOINTS,
    [[0, 5], [1, 4], [2, 3], [10, 15], [11, 14], [12, 13]],  # the official flip_pairs
    list(MPII_SIGMAS),
    [list(e) for e in MPII_SKELETON],
    tuple(range(7, 16)),  # the official upper_body_ids
)
MPII_LAYOUT = """<root>/
  annot/train.json
  annot/valid.json
  annot/gt_valid.mat   (the official ground truth of valid: head boxes for PCKh)
  images/*.jpg"""


def read_mpii(path: Path, key: str) -> list[dict[str, Any]]:
    """The entries of an official MPII json, each checked for what a labelled person needs."""
    if not path.is_file():
        raise MissingInputError(f"{key}: annotation file {path} not found\nexpected layout:\n{MPII_LAYOUT}")
    try:
        entries = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{key}: {path} is not valid JSON: {error}") from None
    if not isinstance(entries, list):
        raise InputError(
            f"{key}: {path} must be a list of persons (image, center, scale, joints, joints_vis)"
        )
    for k, entry in enumerate(entries):
        missing = {"image", "center", "scale", "joints", "joints_vis"} - set(entry)
        joints = np.asarray(entry.get("joints", []), dtype=np.float64)
        if missing or joints.shape != (16, 2) or len(entry["joints_vis"]) != 16 or not entry["scale"] > 0:
            raise InputError(
                f"{key}: {path} person {k}: needs image, center, scale > 0, 16 joints and 16 joints_vis "
                f"(lacks {sorted(missing)}, joints {joints.shape})"
            )
    return entries


def read_head_boxes(path: Path, count: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The official `gt_valid.mat`: head sizes (N,: 0.6 x each head box's diagonal) and which joints are
    labelled (N, 16: 1 - `jnt_missing`), in the json's person order, as the official `evaluate` uses."""
    import scipy.io  # only MPII's ground truth needs it

    try:
        gt = scipy.io.loadmat(str(path))
        boxes, missing = np.asarray(gt["headboxes_src"], np.float64), np.asarray(gt["jnt_missing"])
    except (KeyError, ValueError, OSError, NotImplementedError) as error:
        raise InputError(f"{key}: cannot read headboxes_src and jnt_missing from {path}: {error!r}") from None
    if boxes.shape != (2, 2, count) or missing.shape != (16, count):
        raise InputError(
            f"{key}: {path} has head boxes {boxes.shape} and jnt_missing {missing.shape}; the json has "
            f"{count} persons (expected (2, 2, {count}) and (16, {count}))"
        )
    sizes = np.linalg.norm(boxes[1] - boxes[0], axis=0) * HEAD_SIZE_BIAS
    return sizes, (1 - missing.T).astype(np.float64)


def mpii_persons(entries: list[dict[str, Any]]) -> tuple[list[Person], dict[str, Any]]:
    """The persons to crop (the official centre / scale adjustment, 0-based) and their COCO index."""
    image_ids: dict[str, int] = {}
    persons, annotations = [], []
    for k, entry in enumerate(entries):
        image_id = image_ids.setdefault(str(entry["image"]), len(image_ids) + 1)
        center = np.asarray(entry["center"], dtype=np.float64)
        scale = np.array([entry["scale"], entry["scale"]], dtype=np.float64)
        if center[0] != -1:
            center[1] += 15 * scale[1]
            scale = scale * 1.25
        center = center - 1
        joints = np.zeros((16, 3))
        joints[:, :2] = np.asarray(entry["joints"], dtype=np.float64) - 1
        joints[:, 2] = np.asarray(entry["joints_vis"], dtype=np.float64) > 0
        side = scale[0] * PIXEL_STD
        box = np.array([center[0] - side / 2, center[1] - side / 2, side, side])
        persons.append(Person(center, scale, joints, box, 1.0, image_id, k + 1))
        keypoints = np.concatenate([joints[:, :2], joints[:, 2:] * 2], axis=1)
        annotations.append(
            {
                "id": k + 1,
                "image_id": image_id,
                "category_id": 1,
                "keypoints": keypoints.reshape(-1).tolist(),
                "num_keypoints": int(joints[:, 2].sum()),
                "bbox": box.tolist(),
                "area": float(side * side),
                "iscrowd": 0,
            }
        )
    category = {
        "id": 1,
        "name": "person",
        "keypoints": list(MPII_JOINTS),
        "skeleton": [[a + 1, b + 1] for a, b in MPII_SKELETON],
    }
    images = [{"id": i, "file_name": name} for name, i in image_ids.items()]
    return persons, {"images": images, "annotations": annotations, "categories": [category]}


class MPIIDataset(TopDownDataset):
    """Person crops with each person's head size (`head_size`), which PCKh divides by."""

    def __init__(
        self,
        persons: list[Person],
        load: Callable[[int], Image.Image],
        transform: TopDownTransform,
        head_sizes: np.ndarray | None,
    ) -> None:
        super().__init__(persons, load, transform)
        self.head_sizes = head_sizes

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = super().__getitem__(index)
        if self.head_sizes is not None:
            sample["head_size"] = torch.tensor(self.head_sizes[index], dtype=torch.float32)
        return sample


def mpii_split(
    root: Path, annotations: str, ground_truth: str | None, key: str
) -> tuple[list[Person], COCO, np.ndarray | None]:
    """A split's persons, its COCO index and head sizes (None without a ground-truth file); with the
    official ground truth, its missing-joint flags are the joints' labels, as in the official PCKh."""
    require_dir(root, MPII_LAYOUT, key="data.root")
    persons, coco = mpii_persons(read_mpii(root / annotations, key))
    sizes = None
    if ground_truth is not None:
        sizes, labelled = read_head_boxes(
            root / ground_truth, len(persons), key.replace("annotations", "ground_truth")
        )
        for person, flags in zip(persons, labelled, strict=True):
            person.joints[:, 2] = flags
    return persons, coco_from_dict(coco), sizes


class MPIIDataModule(PoseDataModule):
    """MPII Human Pose (16 joints) in the official layout; `val/PCKh` with the official ground truth's
    head boxes. MPII's test labels are withheld, so `test` scores the validation split.

    Args:
        root: the dataset folder; the paths below are relative to it.
        train_annotations, val_annotations: the official jsons.
        val_ground_truth: the official `gt_valid.mat` (head boxes, missing joints), for PCKh; None
            scores COCO AP and PCK only.
        images: the image folder.
    """

    def __init__(
        self,
        root: str,
        train_annotations: str = "annot/train.json",
        val_annotations: str = "annot/valid.json",
        val_ground_truth: str | None = "annot/gt_valid.mat",
        images: str = "images",
        input_size: tuple[int, int] = (256, 256),
        half_body_prob: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(input_size=input_size, half_body_prob=half_body_prob, **kwargs)
        if self.uses_detections:
            key = "person_boxes" if self.person_boxes is not None else "person_detector"
            raise InputError(f"data.{key}: MPII is evaluated on its annotated persons, not detections")
        self.root = Path(root)
        self.annotations = {"train": train_annotations, "val": val_annotations}
        self.val_ground_truth = val_ground_truth
        self.images = images
        self._splits: dict[str, tuple[list[Person], COCO, np.ndarray | None]] = {}

    @property
    def spec(self) -> KeypointSpec:
        return MPII_SPEC

    def _split(self, split: str) -> tuple[list[Person], COCO, np.ndarray | None]:
        split = "train" if split == "train" else "val"
        if split not in self._splits:
            truth = self.val_ground_truth if split == "val" else None
            self._splits[split] = mpii_split(
                self.root, self.annotations[split], truth, f"data.{split}_annotations"
            )
        return self._splits[split]

    def ground_truth(self, split: str) -> COCO:
        return self._split(split)[1]

    def image_dir(self, split: str) -> Path:
        return self.root / self.images

    def image_loader(self, split: str) -> Callable[[int], Image.Image]:
        return image_loader(self.image_dir(split), self.ground_truth(split))

    def build_dataset(self, split: str) -> MPIIDataset:
        persons, _, sizes = self._split(split)
        return MPIIDataset(persons, self.image_loader(split), self.transform(split == "train"), sizes)
