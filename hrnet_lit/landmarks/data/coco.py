"""Any COCO-format face keypoints set as landmark data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hrnet_lit.errors import InputError
from hrnet_lit.landmarks.data.datamodules import Faces, LandmarkDataModule
from hrnet_lit.landmarks.data.formats import image_loader, read_coco_faces
from hrnet_lit.landmarks.data.specs import LandmarkSpec, Normalization
from hrnet_lit.pose.data.keypoints import mirror_pairs


class COCOFaceDataModule(LandmarkDataModule):
    """Any COCO-format face keypoints set: its landmarks and their names from the json's category, flip
    pairs from `left_` / `right_` names (or the category's `flip_pairs`, or `data.flip_pairs`); the NME
    normalised by the face box (sqrt(w * h)) or by the distance of two landmarks (`norm_landmarks`, e.g.
    the outer eye corners). Test scores the validation file.

    Args:
        root: the dataset folder; the paths below are relative to it.
        train_annotations, val_annotations: COCO keypoints jsons.
        train_images, val_images: their image folders.
        normalization: `box` or `landmarks` (then `norm_landmarks` names the two).
        norm_landmarks: the two landmarks whose distance normalises the NME.
        flip_pairs: override the json's.
    """

    def __init__(
        self,
        root: str,
        train_annotations: str = "annotations/face_landmarks_train.json",
        val_annotations: str = "annotations/face_landmarks_val.json",
        train_images: str = "images/train",
        val_images: str = "images/val",
        normalization: Normalization = "box",
        norm_landmarks: tuple[int, int] | None = None,
        flip_pairs: list[list[int]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if normalization not in ("box", "landmarks"):
            raise InputError(f"data.normalization={normalization!r}: choose 'box' or 'landmarks'")
        if normalization == "landmarks" and norm_landmarks is None:
            raise InputError("data.normalization=landmarks needs data.norm_landmarks (two landmark indices)")
        self.root = Path(root)
        self.annotations = {"train": train_annotations, "val": val_annotations}
        self.images = {"train": train_images, "val": val_images}
        self.normalization: Normalization = normalization
        self.norm_landmarks = tuple(norm_landmarks) if norm_landmarks is not None else (0, 1)
        self.flip_pairs = flip_pairs
        self._spec: LandmarkSpec | None = None
        self._read: dict[str, Faces] = {}

    def _spec_of(self, category: dict[str, Any]) -> LandmarkSpec:
        names = list(category["keypoints"])
        pairs = (
            self.flip_pairs
            if self.flip_pairs is not None
            else category.get("flip_pairs", mirror_pairs(names))
        )
        spec = LandmarkSpec(
            str(category.get("name", "coco")),
            len(names),
            tuple((int(a), int(b)) for a, b in pairs),
            self.normalization,
            (int(self.norm_landmarks[0]), int(self.norm_landmarks[1])),
        )
        spec.check(f"data.val_annotations ({self.annotations['val']})")
        return spec

    @property
    def spec(self) -> LandmarkSpec:
        """From the validation json's category (read once)."""
        if self._spec is None:
            self.faces("val")
        assert self._spec is not None
        return self._spec

    def faces(self, split: str) -> Faces:
        split = "val" if split == "test" else split
        if split not in self._read:
            if self._spec is None and split == "train":
                self.faces("val")
            path = self.root / self.annotations[split]
            faces, files, spec = read_coco_faces(path, self._spec_of, f"data.{split}_annotations")
            if self._spec is not None and spec.num_landmarks != self._spec.num_landmarks:
                raise InputError(
                    f"data.{split}_annotations: {spec.num_landmarks} landmarks, the validation set "
                    f"{self._spec.num_landmarks}"
                )
            self._spec = self._spec or spec
            self._read[split] = (faces, image_loader(self.root / self.images[split], files))
        return self._read[split]
