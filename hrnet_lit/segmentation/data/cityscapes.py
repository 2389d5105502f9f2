"""Cityscapes fine annotations, trained and scored on the official 19 train ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hrnet_lit.common.files import require_dir
from hrnet_lit.segmentation.data.dataset import SegmentationDataset, pair_with_masks
from hrnet_lit.segmentation.data.transforms import SegTransform

CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
    "bicycle",
)  # fmt: skip

CITYSCAPES_PALETTE = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
        (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
        (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)  # fmt: skip

# labelId -> trainId of the 19 evaluated classes, in trainId order; every other id (void, flat/
# "parking", "rail track", "guard rail", "bridge", "tunnel", "polegroup", "caravan", "trailer",
# "license plate" = -1 stored as 255, ...) is ignored.
_EVALUATED_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)
LABEL_ID_TO_TRAIN_ID = np.full(256, 255, dtype=np.uint8)
LABEL_ID_TO_TRAIN_ID[list(_EVALUATED_LABEL_IDS)] = np.arange(len(_EVALUATED_LABEL_IDS), dtype=np.uint8)

_LAYOUT = """\
  <root>/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png
  <root>/gtFine/<split>/<city>/<name>_gtFine_labelIds.png"""


def _mask_of(image: Path, mask_dir: Path) -> Path:
    name = image.name.removesuffix("_leftImg8bit.png")
    return mask_dir / image.parent.name / f"{name}_gtFine_labelIds.png"


class CityscapesSegmentation(SegmentationDataset):
    """``leftImg8bit`` images with their ``gtFine_labelIds`` masks mapped to the 19 train ids."""

    classes = CITYSCAPES_CLASSES
    palette = CITYSCAPES_PALETTE
    label_lut = LABEL_ID_TO_TRAIN_ID
    layout = _LAYOUT

    def __init__(self, root: str | Path, split: str, transform: SegTransform | None = None) -> None:
        root = require_dir(Path(root), _LAYOUT)
        image_dir = require_dir(root / "leftImg8bit" / split, _LAYOUT)
        mask_dir = require_dir(root / "gtFine" / split, _LAYOUT)
        images = sorted(image_dir.glob("*/*_leftImg8bit.png"))
        samples = pair_with_masks(images, lambda image: _mask_of(image, mask_dir), image_dir, _LAYOUT)
        super().__init__(samples, transform)
