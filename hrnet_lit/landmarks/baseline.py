"""The mean-shape baseline: what a model that ignores the image scores. A trained model's NME means
something only well below it."""

from __future__ import annotations

import numpy as np
import torch

from hrnet_lit.landmarks.data.datamodules import LandmarkDataModule
from hrnet_lit.landmarks.data.transforms import FACE_PADDING, Face
from hrnet_lit.landmarks.metrics import face_nme
from hrnet_lit.pose.affine import PIXEL_STD


def _box_frame(face: Face) -> np.ndarray:
    """A face's landmarks relative to its box: centre at 0, the padded box side 1."""
    return (face.landmarks - face.center) / (face.scale * PIXEL_STD * FACE_PADDING)


def mean_shape_nme(train: list[Face], evaluated: list[Face]) -> float:
    """The NME of the training faces' mean shape (in box coordinates) placed in each evaluated face's box."""
    mean = np.mean([_box_frame(face) for face in train], axis=0)
    guess = np.stack([face.center + mean * face.scale * PIXEL_STD * FACE_PADDING for face in evaluated])
    truth = np.stack([face.landmarks for face in evaluated])
    norm = np.array([face.norm for face in evaluated])
    weight = np.stack([face.weight for face in evaluated])
    nme = face_nme(*(torch.as_tensor(a, dtype=torch.float64) for a in (guess, truth, norm, weight)))
    return float(nme.mean())


def data_mean_shape_nme(data: LandmarkDataModule, split: str = "val") -> float:
    """`mean_shape_nme` of a data module: its training faces' mean shape on its `split` faces."""
    return mean_shape_nme(data.faces("train")[0], data.faces(split)[0])
