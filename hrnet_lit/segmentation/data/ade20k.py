"""ADE20K as released for the MIT Scene Parsing benchmark (ADEChallengeData2016, 150 classes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hrnet_lit.common.files import require_dir
from hrnet_lit.common.palette import make_palette
from hrnet_lit.errors import InputError
from hrnet_lit.segmentation.data.dataset import SegmentationDataset, pair_with_masks
from hrnet_lit.segmentation.data.transforms import SegTransform

ADE20K_CLASSES: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper",
    "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table",
    "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table",
    "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island",
    "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light",
    "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman",
    "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy",
    "washer", "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag",
    "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave", "pot",
    "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce",
    "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip

# Stored 0 means "other / unlabelled" and is ignored; stored k (1..150) is class k - 1. Values above
# 150 map to 150..254, which the base class then reports as out of range instead of hiding them.
_STORED_TO_TRAIN_ID = np.concatenate([[255], np.arange(255)]).astype(np.uint8)

_SPLIT_DIRS = {"train": "training", "val": "validation"}
_LAYOUT = """\
  <root>/ADEChallengeData2016/images/{training,validation}/*.jpg
  <root>/ADEChallengeData2016/annotations/{training,validation}/*.png
(root may also be the ADEChallengeData2016 folder itself)"""


class ADE20KSegmentation(SegmentationDataset):
    """SceneParsing images with their annotations shifted to 0-based ids (0 = unlabelled -> ignored)."""

    classes = ADE20K_CLASSES
    palette = make_palette(len(ADE20K_CLASSES))
    label_lut = _STORED_TO_TRAIN_ID
    layout = _LAYOUT

    def __init__(self, root: str | Path, split: str, transform: SegTransform | None = None) -> None:
        if split not in _SPLIT_DIRS:
            raise InputError(f"ADE20K split must be one of {sorted(_SPLIT_DIRS)}, got {split!r}")
        root = require_dir(Path(root), _LAYOUT)
        if (root / "ADEChallengeData2016").is_dir():
            root = root / "ADEChallengeData2016"
        image_dir = require_dir(root / "images" / _SPLIT_DIRS[split], _LAYOUT)
        mask_dir = require_dir(root / "annotations" / _SPLIT_DIRS[split], _LAYOUT)
        images = sorted(image_dir.glob("*.jpg"))
        samples = pair_with_masks(images, lambda image: mask_dir / f"{image.stem}.png", image_dir, _LAYOUT)
        super().__init__(samples, transform)
