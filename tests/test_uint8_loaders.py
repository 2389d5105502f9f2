"""Pose, landmark, detection and instance data hand `uint8` images to the device, where the task
normalises them: the network input is the one the float loaders gave, within float rounding, except
where the crop warp (now OpenCV's, as the official code) resamples differently from PIL's, which is
bounded separately here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from helpers import TINY_DETECTION, TINY_LANDMARKS, TINY_POSE
from PIL import Image
from torch.utils.data import default_collate
from torchvision.transforms.v2 import functional as TF

from hrnet_lit.common.normalize import normalize
from hrnet_lit.common.resumable import KeyedSamples
from hrnet_lit.detection.data import SyntheticDetectionDataModule
from hrnet_lit.detection.detector import DetectorConfig
from hrnet_lit.detection.task import DetectionTask
from hrnet_lit.instance.data import SyntheticInstanceDataModule
from hrnet_lit.instance.detector import MaskRCNNConfig
from hrnet_lit.instance.task import InstanceTask
from hrnet_lit.landmarks import LandmarkTask
from hrnet_lit.landmarks.data import SyntheticFaceDataModule
from hrnet_lit.pose import PoseTask
from hrnet_lit.pose.affine import affine_matrix, apply_affine, compose, flip_matrix, warp
from hrnet_lit.pose.data import SyntheticPoseDataModule
from hrnet_lit.pose.data import transforms as pose_transforms

ROUNDING = 1e-5  # float32 rounding of normalised values (|x| < 3): two formulas of the same affine map


def pil_warp(pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The crop warp the loaders used before: PIL's bilinear affine, shifted half a pixel to OpenCV's
    pixel centres."""
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    shift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5]])
    unshift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    pil = compose(unshift, compose(inverse, shift))
    image = Image.fromarray(pixels).transform(
        size, Image.Transform.AFFINE, data=tuple(pil.reshape(-1)), resample=Image.Resampling.BILINEAR
    )
    return np.asarray(image)


def sample_points(matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 2): where in the image each crop pixel samples."""
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    return apply_affine(points, inverse).reshape(size[1], size[0], 2)


def within(points: np.ndarray, shape: tuple[int, ...], margin: float) -> np.ndarray:
    """Sample points at least `margin` pixels inside the image's pixel centres (negative: outside)."""
    height, width = shape[:2]
    x, y = points[..., 0], points[..., 1]
    return (x >= margin) & (x <= width - 1 - margin) & (y >= margin) & (y <= height - 1 - margin)


def official_warp(pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The official crop's arithmetic in float64: bilinear between pixel centres, zeros outside."""
    points = sample_points(matrix, size)
    padded = np.pad(pixels.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    x, y = points[..., 0] + 1, points[..., 1] + 1  # in the padded image
    inside = (x > -1) & (x < padded.shape[1]) & (y > -1) & (y < padded.shape[0])
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        ok = (yy >= 0) & (yy < padded.shape[0]) & (xx >= 0) & (xx < padded.shape[1])
        return np.where(
            ok[..., None], padded[yy.clip(0, padded.shape[0] - 1), xx.clip(0, padded.shape[1] - 1)], 0
        )

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return np.where(inside[..., None], top * (1 - fy) + bottom * fy, 0.0)


def test_the_crop_warp_is_the_official_bilinear_with_a_zero_border() -> None:
    """OpenCV's fixed-point bilinear is the official crop within one grey level, at the image's edge
    too (where the zero border blends in)."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    size = (24, 32)
    for k in range(12):
        center = rng.uniform([0, 0], [64, 48])
        matrix = affine_matrix(center, rng.uniform(0.1, 0.4, 2), float(rng.uniform(-60, 60)), size)
        if k % 2:
            matrix = compose(matrix, flip_matrix(64))
        crop = warp(pixels, matrix, size)
        assert crop.dtype == np.uint8 and crop.shape == (32, 24, 3)
        difference = np.abs(crop.astype(np.float64) - official_warp(pixels, matrix, size))
        assert difference.max() <= 1.0, (k, difference.max())


def recorded_sample(dataset: Any, index: int, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, tuple]:
    """Sample `index` (its augmentation seeded) and the pixels, matrix and size its crop warped."""
    calls: list[tuple[np.ndarray, np.ndarray, tuple[int, int]]] = []

    def recording(pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        calls.append((pixels, matrix, size))
        return warp(pixels, matrix, size)

    monkeypatch.setattr(pose_transforms, "warp", recording)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(100 + index)
        sample = dataset[index]
    (call,) = calls
    return sample, call


HEATMAP_CASES = {
    "pose train": lambda: (
        SyntheticPoseDataModule(num_train=4, num_val=2, image_size=(96, 96), input_size=(64, 48)),
        "train",
        PoseTask,
        TINY_POSE,
    ),
    "pose val": lambda: (
        SyntheticPoseDataModule(num_train=2, num_val=4, image_size=(96, 96), input_size=(64, 48)),
        "val",
        PoseTask,
        TINY_POSE,
    ),
    "landmarks train": lambda: (
        SyntheticFaceDataModule(num_train=4, num_val=2, image_size=(64, 64), input_size=(32, 32)),
        "train",
        LandmarkTask,
        TINY_LANDMARKS,
    ),
}


@pytest.mark.parametrize("case", list(HEATMAP_CASES))
def test_heatmap_tasks_normalise_the_uint8_crop_as_the_loader_did(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, split, task_type, backbone = HEATMAP_CASES[case]()
    task = task_type(backbone, **data.task_args)
    dataset = data.dataset(split)
    for index in range(len(dataset)):
        sample, (pixels, matrix, size) = recorded_sample(dataset, index, monkeypatch)
        crop = sample["image"]
        assert crop.dtype == torch.uint8 and crop.shape == (3, size[1], size[0])
        batch = task.on_after_batch_transfer(default_collate([sample]), 0)
        network_input = batch["image"][0]
        assert network_input.dtype == torch.float32
        # The device's normalisation against the loader's old one, on the same pixels.
        old_way = normalize(crop.permute(1, 2, 0).numpy())
        assert (network_input - old_way).abs().max() <= ROUNDING
        # The new warp against the old (PIL's): one grey level where both read inside the image; they
        # differ only within one pixel outside it (PIL repeats the edge pixel up to half a pixel out,
        # OpenCV and the official crop blend it with the zero border).
        before = pil_warp(pixels, matrix, size).astype(int)
        difference = np.abs(crop.permute(1, 2, 0).numpy().astype(int) - before).max(axis=-1)
        points = sample_points(matrix, size)
        assert difference[within(points, pixels.shape, 0.0)].max(initial=0) <= 1, index
        assert difference[~within(points, pixels.shape, -1.0)].max(initial=0) == 0, index
        old_input = normalize(before.astype(np.uint8))
        inside = torch.from_numpy(within(points, pixels.shape, 0.0))
        assert (network_input - old_input).abs().amax(0)[inside].max() <= 1 / (255 * 0.224) + ROUNDING


def test_a_keyed_pose_sample_is_the_same_uint8_crop_whoever_loads_it() -> None:
    data = SyntheticPoseDataModule(num_train=3, num_val=2, image_size=(96, 96), input_size=(64, 48))
    keyed = KeyedSamples(data.dataset("train"))
    first, again, other = keyed[(1, 7)], keyed[(1, 7)], keyed[(1, 8)]
    for key in ("image", "target", "target_weight"):
        assert torch.equal(first[key], again[key])
    assert not torch.equal(first["image"], other["image"])


def detection_case(kind: str) -> tuple[Any, Any]:
    if kind == "detection":
        data = SyntheticDetectionDataModule(num_train=2, num_val=2, image_size=(64, 80))
        detector = DetectorConfig(min_size=64, max_size=128, norm_eval=False)
        return data, DetectionTask(TINY_DETECTION, num_classes=3, detector=detector)
    data = SyntheticInstanceDataModule(num_train=2, num_val=2, image_size=(64, 80))
    detector = MaskRCNNConfig(min_size=64, max_size=128, norm_eval=False, mask_head_width=8)
    return data, InstanceTask(TINY_DETECTION, num_classes=3, detector=detector)


@pytest.mark.parametrize("kind", ["detection", "instance"])
def test_detection_tasks_get_the_same_float_images_on_the_device(kind: str) -> None:
    """The 0-1 float image the loader made before, now made on the device, and the detector's own
    normalised, resized batch from it: bit-identical."""
    data, task = detection_case(kind)
    dataset = data.dataset("train")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        samples = [dataset[k] for k in range(len(dataset))]
    images, targets = zip(*samples, strict=True)
    assert all(image.dtype == torch.uint8 for image in images)
    if kind == "instance":
        assert all(t["masks"].dtype == torch.uint8 for t in targets)
    floats, moved = task.on_after_batch_transfer((list(images), list(targets)), 0)
    before = [TF.to_dtype(image, torch.float32, scale=True) for image in images]  # the old loader's
    for now, then in zip(floats, before, strict=True):
        assert now.dtype == torch.float32 and torch.equal(now, then)
    assert moved == list(targets)
    transform = task.net.transform.eval()
    assert torch.equal(transform(floats)[0].tensors, transform(before)[0].tensors)
