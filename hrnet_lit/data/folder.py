"""A researcher's own data in a plain folder layout, plus unlabelled images for prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from hrnet_lit.data.base import SegmentationDataset, open_image, pair_with_masks, require_dir
from hrnet_lit.data.palette import make_palette
from hrnet_lit.data.transforms import SegTransform, normalize
from hrnet_lit.errors import InputError, MissingInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

_LAYOUT = """\
  <root>/classes.txt                       one class name per line (line i = class id i)
  <root>/images/<split>/<stem>.{png,jpg,jpeg}
  <root>/masks/<split>/<stem>.png          single-channel, pixel value = class id, 255 = ignore"""


def read_class_names(root: str | Path) -> tuple[str, ...]:
    """Class names from ``<root>/classes.txt``, one per non-empty line."""
    path = Path(root) / "classes.txt"
    if not path.is_file():
        raise MissingInputError(f"class list {path} not found\nexpected layout:\n{_LAYOUT}")
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not 0 < len(names) < 256:
        raise InputError(f"{path} lists {len(names)} classes; need 1..255 (label 255 means ignore)")
    return names


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted so sample order is stable across machines."""
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


class FolderSegmentation(SegmentationDataset):
    """``images/<split>`` with same-stem PNG masks in ``masks/<split>``; classes from ``classes.txt``."""

    layout = _LAYOUT

    def __init__(self, root: str | Path, split: str, transform: SegTransform | None = None) -> None:
        root = require_dir(Path(root), _LAYOUT)
        self.classes = read_class_names(root)
        self.palette = make_palette(len(self.classes))
        image_dir = require_dir(root / "images" / split, _LAYOUT)
        mask_dir = require_dir(root / "masks" / split, _LAYOUT)
        images = list_images(image_dir)
        samples = pair_with_masks(images, lambda image: mask_dir / f"{image.stem}.png", image_dir, _LAYOUT)
        super().__init__(samples, transform)


class ImageFolderPredict(Dataset[tuple[Tensor, str]]):
    """Every image in a folder as (normalised image, path); the path's stem names the saved prediction,
    so two images with one stem (``x.png``, ``x.jpg``) are refused before anything is written."""

    def __init__(self, root: str | Path) -> None:
        folder = Path(root)
        if not folder.is_dir():
            raise MissingInputError(f"prediction folder {folder} not found")
        self.paths = list_images(folder)
        if not self.paths:
            raise MissingInputError(f"no {'/'.join(IMAGE_SUFFIXES)} images in prediction folder {folder}")
        stems: dict[str, Path] = {}
        for path in self.paths:
            if path.stem in stems:
                raise InputError(
                    f"{stems[path.stem]} and {path} share the name {path.stem!r}: both predictions would "
                    f"be saved as {path.stem}.png; rename one"
                )
            stems[path.stem] = path

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, str]:
        path = self.paths[index]
        with open_image(path) as image:
            return normalize(np.array(image.convert("RGB"))), str(path)
