"""Landmark LightningDataModules: the embedded synthetic faces, the official CSV sets (WFLW, 300W,
AFLW) and COFW's `.mat` (COCO-format faces: `coco.py`)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader

from hrnet_lit.common.datamodule import check_synthetic
from hrnet_lit.common.files import require_dir
from hrnet_lit.errors import InputError
from hrnet_lit.landmarks.contract import LandmarkArgs
from hrnet_lit.landmarks.data.dataset import FaceDataset, FacePredictFolder
from hrnet_lit.landmarks.data.formats import image_loader, read_cofw_mat, read_landmark_csv
from hrnet_lit.landmarks.data.specs import BENCHMARKS, COFW, LandmarkSpec
from hrnet_lit.landmarks.data.synthetic import SyntheticFaces
from hrnet_lit.landmarks.data.transforms import Face, FaceAugmentation, FaceTransform
from hrnet_lit.pose.codec import HeatmapCodec
from hrnet_lit.pose.data.heatmap_datamodule import HeatmapDataModule

OFFICIAL_SIGMA = 1.5  # WFLW, COFW and AFLW (300W: 1.0)
Faces = tuple[list[Face], Callable[[int], Image.Image]]


def landmark_codec(codec: HeatmapCodec | Mapping[str, Any] | None) -> HeatmapCodec:
    """The task's codec, which the CLI links in (its fields where a parse-only config builds the data
    module); the official sigma 1.5 for a data module built in Python without one."""
    if isinstance(codec, Mapping):
        return HeatmapCodec(**codec)
    return codec if codec is not None else HeatmapCodec(sigma=OFFICIAL_SIGMA)


class LandmarkDataModule(HeatmapDataModule):
    """Face crops for a LandmarkTask; the landmark set (`task_args`) is known at construction.

    Args:
        input_size: network input (height, width), multiples of 4 (heatmaps are 1/4 of it).
        batch_size: faces per step, training and evaluation.
        num_workers: loader processes; 0 loads in the training process.
        codec: the task's heatmap codec (`model.codec`: sigma, DARK); the CLI links it from the task.
        scale_factor, rotation_factor, rotation_prob, flip_prob: the official augmentation (0.25, 30
            degrees, 0.6, 0.5).
        face_boxes: for `predict`, a json list of boxes (COCO results: `file_name` or `image_id`,
            `bbox` x, y, w, h, optional `score`); an image with none listed is one face.
        predict_dir: folder of images for `predict`.
    """

    kind = "landmarks"
    samples = "faces"

    def __init__(
        self,
        input_size: tuple[int, int] = (256, 256),
        batch_size: int = 16,
        num_workers: int = 4,
        codec: HeatmapCodec | None = None,
        scale_factor: float = 0.25,
        rotation_factor: float = 30.0,
        rotation_prob: float = 0.6,
        flip_prob: float = 0.5,
        face_boxes: str | None = None,
        predict_dir: str | None = None,
    ) -> None:
        super().__init__(input_size, batch_size, num_workers, predict_dir)
        self.codec = landmark_codec(codec)
        self.augmentation = FaceAugmentation(scale_factor, rotation_factor, rotation_prob, flip_prob)
        self.face_boxes = face_boxes
        self._attributes: tuple[str, ...] = ()

    @property
    @abstractmethod
    def spec(self) -> LandmarkSpec: ...

    @abstractmethod
    def faces(self, split: str) -> Faces:
        """The faces of `split` ("train", "val" or "test") and the loader of their images."""

    @property
    def task_args(self) -> LandmarkArgs:
        """The landmark count and flip pairs: linked into the LandmarkTask."""
        return LandmarkArgs(
            num_landmarks=self.spec.num_landmarks, flip_pairs=[list(p) for p in self.spec.flip_pairs]
        )

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The attribute subsets the evaluation file flags (WFLW's), known once it is read."""
        return self._attributes

    def transform(self, train: bool) -> FaceTransform:
        return FaceTransform(
            self.input_size, self.spec.flip_pairs, self.codec, self.augmentation if train else None
        )

    def build_dataset(self, split: str) -> FaceDataset:
        faces, load = self.faces(split)
        if not faces:
            raise InputError(f"data: the {split} split of {type(self).__qualname__} has no face")
        return FaceDataset(faces, load, self.transform(split == "train"))

    def predict_dataloader(self) -> DataLoader:
        return self.predict_loader(
            lambda path, boxes: FacePredictFolder(
                path, self.transform(False), self.spec.num_landmarks, boxes
            ),
            self.face_boxes,
            "data.face_boxes",
            0.0,
        )


class SyntheticFaceDataModule(LandmarkDataModule):
    """The built-in :class:`SyntheticFaces` (22 landmarks, inter-ocular NME); split k (train 0, val 1,
    test 2) draws from seed 3 * seed + k, so splits never share a face."""

    def __init__(
        self,
        num_train: int = 2000,
        num_val: int = 200,
        image_size: tuple[int, int] = (96, 96),
        seed: int = 0,
        input_size: tuple[int, int] = (64, 64),
        **kwargs: Any,
    ) -> None:
        super().__init__(input_size=input_size, **kwargs)
        check_synthetic(num_train, num_val, image_size, 32)
        self.counts = {"train": num_train, "val": num_val, "test": num_val}
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.seed = seed

    @property
    def spec(self) -> LandmarkSpec:
        return SyntheticFaces.spec

    def faces(self, split: str) -> Faces:
        drawn = SyntheticFaces(
            self.counts[split], self.image_size, self.seed * 3 + ("train", "val", "test").index(split)
        )
        return [drawn.face(k) for k in range(len(drawn))], drawn.image


CSV_LAYOUT = """<root>/
  face_landmarks_<benchmark>_train.csv   (image_name, scale, [box_size,] center_w, center_h, x0, y0, ...)
  face_landmarks_<benchmark>_test.csv    (300W: face_landmarks_300w_valid.csv)
  images/<image_name>"""


class LandmarkCSVDataModule(LandmarkDataModule):
    """WFLW (98), 300W (68) or AFLW (19 landmarks, box-size NME) in the official CSV layout; the NME is
    normalised as the benchmark defines it. WFLW's attribute columns, where a CSV has them, give the
    subset NMEs (`val/NME_pose`, ...).

    Args:
        root: the dataset folder; the paths below are relative to it.
        benchmark: `wflw`, `300w` or `aflw`: the landmark set, flip pairs and normalisation.
        train_csv, val_csv: the official file names by default; test scores `test_csv` (default: the val file,
            the official TESTSET). Per-subset files (WFLW's `face_landmarks_wflw_test_blur.csv`, 300W's
            common / challenging / ibug) are scored by giving them as `test_csv`.
        images: the image folder the CSV's names are relative to.
    """

    def __init__(
        self,
        root: str,
        benchmark: Literal["wflw", "300w", "aflw"] = "wflw",
        train_csv: str | None = None,
        val_csv: str | None = None,
        test_csv: str | None = None,
        images: str = "images",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if benchmark not in ("wflw", "300w", "aflw"):
            raise InputError(f"data.benchmark={benchmark!r}: choose one of ('wflw', '300w', 'aflw')")
        self.root = Path(root)
        self.benchmark = benchmark
        val = val_csv or f"face_landmarks_{benchmark}_{'valid' if benchmark == '300w' else 'test'}.csv"
        self.files = {
            "train": train_csv or f"face_landmarks_{benchmark}_train.csv",
            "val": val,
            "test": test_csv or val,
        }
        self.images = images

    @property
    def spec(self) -> LandmarkSpec:
        return BENCHMARKS[self.benchmark]

    def faces(self, split: str) -> Faces:
        require_dir(self.root, CSV_LAYOUT, key="data.root")
        key = f"data.{split}_csv"
        faces, names, attributes = read_landmark_csv(self.root / self.files[split], self.spec, key)
        if split != "train":
            self._attributes = attributes
        return faces, image_loader(self.root / self.images, names)


class COFWDataModule(LandmarkDataModule):
    """COFW (29 landmarks, inter-pupil NME) from the official `.mat` files (images inside them); test
    scores the test file, as validation does (the official TESTSET).

    Args:
        root: the folder of the two files.
        train_mat, test_mat: their names.
    """

    def __init__(
        self,
        root: str,
        train_mat: str = "COFW_train_color.mat",
        test_mat: str = "COFW_test_color.mat",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = Path(root)
        self.files = {"train": train_mat, "val": test_mat, "test": test_mat}

    @property
    def spec(self) -> LandmarkSpec:
        return COFW

    def faces(self, split: str) -> Faces:
        key = f"data.{'train' if split == 'train' else 'test'}_mat"
        faces, pixels = read_cofw_mat(self.root / self.files[split], split == "train", COFW, key)
        return faces, lambda index: Image.fromarray(
            np.ascontiguousarray(pixels[index]).astype(np.uint8)
        ).convert("RGB")
