"""Pose LightningDataModules: the embedded synthetic figures, and COCO keypoints (or any COCO-format set)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from pycocotools.coco import COCO
from torch.utils.data import DataLoader

from hrnet_lit.common.datamodule import check_synthetic
from hrnet_lit.common.files import require_dir
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.errors import InputError
from hrnet_lit.pose.codec import HeatmapCodec, data_codec
from hrnet_lit.pose.contract import PoseArgs
from hrnet_lit.pose.data.coco import coco_from_dict, gt_persons, image_loader, keypoint_category, read_coco
from hrnet_lit.pose.data.dataset import PosePredictFolder, TopDownDataset
from hrnet_lit.pose.data.heatmap_datamodule import HeatmapDataModule
from hrnet_lit.pose.data.keypoints import COCO_SPEC, KeypointSpec, spec_from_category
from hrnet_lit.pose.data.person_boxes import detected_persons, detector_boxes_by_stem, detector_persons
from hrnet_lit.pose.data.synthetic import HALF_BODY_MIN_JOINTS, SyntheticPoses
from hrnet_lit.pose.data.transforms import Augmentation, TopDownTransform
from hrnet_lit.pose.person_detector import IMAGE_THRE, PersonDetector, load_person_detector


class PoseDataModule(HeatmapDataModule):
    """Person crops for a top-down PoseTask; the keypoint set (`task_args`) is known at construction.

    Evaluation crops come from the ground-truth boxes, or from a detector's with `person_boxes`, and
    are scored by COCOeval against `ground_truth(split)`, the split's COCO annotations.

    Args:
        input_size: network input (height, width), a multiple of 4 (heatmaps are 1/4 of it).
        batch_size: crops per step, training and evaluation.
        num_workers: loader processes; 0 loads in the training process.
        codec: the task's heatmap codec (`model.codec`: sigma, DARK), which encodes the targets; the CLI
            links it from the task, it is not set here.
        sigma, unbiased_targets: the old keys of `model.codec.sigma` and `model.codec.dark`, accepted
            where they agree with the codec (configs written before it).
        scale_factor, rotation_factor, rotation_prob, flip_prob, half_body_prob: the official
            augmentation (0.35, 45 degrees, 0.6, 0.5, 0.3).
        person_boxes: COCO detections json whose person boxes replace the ground-truth ones in
            validation and test (as the official detector-box evaluation) and give predict its boxes
            (an image with none gets no skeleton).
        person_detector: instead of `person_boxes`, a detector file that finds them: a `hrnet-lit fit`
            detection checkpoint or torchvision Faster R-CNN weights (`load_person_detector`), run
            over the split's or the predict folder's images before the first crop.
        detector_device: where `person_detector` runs.
        image_thre: detections scoring below it are dropped, in evaluation and predict (official 0.0).
        predict_dir: folder of images for `predict`.
    """

    kind = "pose"  # the task this data is for (`HRNetTask.kind`)
    samples = "persons"

    def __init__(
        self,
        input_size: tuple[int, int] = (256, 192),
        batch_size: int = 32,
        num_workers: int = 2,
        codec: HeatmapCodec | None = None,
        sigma: float | None = None,
        unbiased_targets: bool | None = None,
        scale_factor: float = 0.35,
        rotation_factor: float = 45.0,
        rotation_prob: float = 0.6,
        flip_prob: float = 0.5,
        half_body_prob: float = 0.3,
        person_boxes: str | None = None,
        person_detector: str | None = None,
        detector_device: str = "cpu",
        image_thre: float = IMAGE_THRE,
        predict_dir: str | None = None,
    ) -> None:
        super().__init__(input_size, batch_size, num_workers, predict_dir)
        self.codec = data_codec(codec, sigma, unbiased_targets)
        self.augmentation = Augmentation(
            scale_factor, rotation_factor, rotation_prob, flip_prob, half_body_prob, self.half_body_min_joints
        )
        if person_boxes is not None and person_detector is not None:
            raise InputError(
                f"data.person_boxes={person_boxes} and data.person_detector={person_detector}: "
                "give one source of person boxes"
            )
        self.person_boxes = person_boxes
        self.person_detector = person_detector
        self.detector_device = detector_device
        self.image_thre = image_thre
        self._detector: PersonDetector | None = None

    @property
    @abstractmethod
    def spec(self) -> KeypointSpec: ...

    @abstractmethod
    def ground_truth(self, split: str) -> COCO:
        """The COCO annotations of `split` ("train", "val" or "test")."""

    @abstractmethod
    def image_loader(self, split: str) -> Callable[[int], Image.Image]:
        """Image id -> the image, for `split`."""

    @abstractmethod
    def image_dir(self, split: str) -> Path: ...

    @property
    def half_body_min_joints(self) -> int:
        return 8

    @property
    def task_args(self) -> PoseArgs:
        """Joints, their names, flip pairs, OKS sigmas and skeleton: linked into the PoseTask."""
        return self.spec.task_args()

    @property
    def files_on_disk(self) -> bool:
        """Whether the annotated images are files (checked to exist before the first step)."""
        return True

    @property
    def uses_detections(self) -> bool:
        """Whether evaluation crops come from a detector (then OKS NMS removes duplicate persons)."""
        return self.person_boxes is not None or self.person_detector is not None

    def detector(self) -> PersonDetector:
        """The `person_detector`, loaded once."""
        if self._detector is None:
            assert self.person_detector is not None
            self._detector = load_person_detector(
                self.person_detector, self.image_thre, self.detector_device, key="data.person_detector"
            )
        return self._detector

    def transform(self, train: bool) -> TopDownTransform:
        return TopDownTransform(
            self.input_size,
            self.spec.flip_pairs,
            self.codec,
            self.spec.upper_body,
            self.augmentation if train else None,
        )

    def build_dataset(self, split: str) -> TopDownDataset:
        """The crops of `split`: ground-truth persons, or in evaluation the detector's boxes."""
        coco = self.ground_truth(split)
        aspect = self.input_size[1] / self.input_size[0]
        if split != "train" and self.person_detector is not None:
            persons = detector_persons(
                self.detector(),
                coco,
                self.image_loader(split),
                self.spec.num_joints,
                aspect,
                "data.person_detector",
            )
        elif split != "train" and self.person_boxes is not None:
            persons = detected_persons(
                Path(self.person_boxes),
                coco,
                self.spec.num_joints,
                aspect,
                self.image_thre,
                "data.person_boxes",
            )
        else:
            persons = gt_persons(
                coco,
                self.image_dir(split),
                self.spec.num_joints,
                aspect,
                self.annotation_source(split),
                self.files_on_disk,
            )
        return TopDownDataset(persons, self.image_loader(split), self.transform(split == "train"))

    def annotation_source(self, split: str) -> str:
        """What the errors about `split`'s annotations name."""
        return f"{split} annotations"

    def predict_dataloader(self) -> DataLoader:
        """The predict folder's person crops: the boxes of `person_detector` or `person_boxes` on each
        image, or the whole image as one person when neither is given."""
        if self.person_detector is not None:
            detector = self.detector()

            def detected(path: str) -> PosePredictFolder:
                paths = ImageFolderPredict(path).paths
                boxes = detector_boxes_by_stem(detector, paths)
                transform = self.transform(False)
                return PosePredictFolder(path, transform, self.spec.num_joints, boxes, "data.person_detector")

            dataset = self.predict_images(detected)
            return DataLoader(dataset, batch_size=self.batch_size, **self._loader_options())
        return self.predict_loader(
            lambda path, boxes: PosePredictFolder(path, self.transform(False), self.spec.num_joints, boxes),
            self.person_boxes,
            "data.person_boxes",
            self.image_thre,
        )


class SyntheticPoseDataModule(PoseDataModule):
    """The built-in :class:`SyntheticPoses` figures (13 joints); test has `num_val` images like val.

    Split k (train 0, val 1, test 2) draws from dataset seed 3 * seed + k, so splits never share an
    image. Half body needs more than 6 of the 13 joints visible (COCO's 8 of 17, scaled).
    """

    def __init__(
        self,
        num_train: int = 2000,
        num_val: int = 200,
        image_size: tuple[int, int] = (128, 128),
        seed: int = 0,
        input_size: tuple[int, int] = (128, 96),
        **kwargs: Any,
    ) -> None:
        super().__init__(input_size=input_size, **kwargs)
        check_synthetic(num_train, num_val, image_size, 16)
        self.num_train = num_train
        self.num_val = num_val
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.seed = seed
        self._sets: dict[str, tuple[SyntheticPoses, COCO]] = {}

    @property
    def spec(self) -> KeypointSpec:
        return SyntheticPoses.spec

    @property
    def half_body_min_joints(self) -> int:
        return HALF_BODY_MIN_JOINTS

    def _set(self, split: str) -> tuple[SyntheticPoses, COCO]:
        if split not in self._sets:
            offset = {"train": 0, "val": 1, "test": 2}[split]
            size = self.num_train if split == "train" else self.num_val
            poses = SyntheticPoses(size, self.image_size, self.seed * 3 + offset)
            self._sets[split] = (poses, coco_from_dict(poses.coco()))
        return self._sets[split]

    def ground_truth(self, split: str) -> COCO:
        return self._set(split)[1]

    def image_loader(self, split: str) -> Callable[[int], Image.Image]:
        poses = self._set(split)[0]
        return lambda image_id: poses.image(image_id - 1)

    def image_dir(self, split: str) -> Path:
        return Path(f"<synthetic {split}>")

    @property
    def files_on_disk(self) -> bool:
        return False  # the images are drawn, not read


COCO_LAYOUT = """<root>/
  annotations/person_keypoints_train2017.json
  annotations/person_keypoints_val2017.json
  images/train2017/*.jpg
  images/val2017/*.jpg"""


class COCOKeypointsDataModule(PoseDataModule):
    """COCO keypoints, or any COCO-format keypoint set: its own joints, names and skeleton come from the
    json's category; flip pairs from `left_` / `right_` names (or the category's `flip_pairs`), OKS
    sigmas COCO's for COCO's joints, else from the category's `sigmas` or `data.sigmas`. COCO's test
    labels are withheld, so `test` scores the validation split.

    Args:
        root: the dataset folder; the paths below are relative to it.
        train_annotations, val_annotations: COCO keypoints jsons.
        train_images, val_images: their image folders.
        flip_pairs, sigmas, upper_body: override the json's (upper_body: joints of the upper half for
            the half-body augmentation; COCO's nose ... wrists by default, none for other sets).
    """

    def __init__(
        self,
        root: str,
        train_annotations: str = "annotations/person_keypoints_train2017.json",
        val_annotations: str = "annotations/person_keypoints_val2017.json",
        train_images: str = "images/train2017",
        val_images: str = "images/val2017",
        flip_pairs: list[list[int]] | None = None,
        sigmas: list[float] | None = None,
        upper_body: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = Path(root)
        self.annotations = {"train": train_annotations, "val": val_annotations}
        self.images = {"train": train_images, "val": val_images}
        self.overrides = {"flip_pairs": flip_pairs, "sigmas": sigmas, "upper_body": upper_body}
        self._coco: dict[str, COCO] = {}
        self._spec: KeypointSpec | None = None

    def _split(self, split: str) -> str:
        return "val" if split == "test" else split

    def ground_truth(self, split: str) -> COCO:
        split = self._split(split)
        if split not in self._coco:
            require_dir(self.root, COCO_LAYOUT, key="data.root")
            self._coco[split] = read_coco(self.root / self.annotations[split], f"data.{split}_annotations")
        return self._coco[split]

    @property
    def spec(self) -> KeypointSpec:
        """From the validation json's category. Before the dataset is there, COCO's joints, so that
        `summary` and `export` build the official networks without it (a fit then stops at setup,
        naming the missing file)."""
        if self._spec is None:
            if not (self.root / self.annotations["val"]).is_file():
                return COCO_SPEC
            category = keypoint_category(self.ground_truth("val"))
            self._spec = spec_from_category(
                category, f"data.val_annotations ({self.annotations['val']})", **self.overrides
            )
        return self._spec

    def image_dir(self, split: str) -> Path:
        return self.root / self.images[self._split(split)]

    def annotation_source(self, split: str) -> str:
        split = self._split(split)
        return f"data.{split}_annotations: {self.root / self.annotations[split]}"

    def image_loader(self, split: str) -> Callable[[int], Image.Image]:
        return image_loader(self.image_dir(split), self.ground_truth(split))
