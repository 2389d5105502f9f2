"""A researcher's own segmentation data in a plain folder layout."""

from __future__ import annotations

from pathlib import Path

from hrnet_lit.common.files import require_dir
from hrnet_lit.common.images import list_images
from hrnet_lit.common.palette import make_palette
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.segmentation.data.dataset import SegmentationDataset, pair_with_masks
from hrnet_lit.segmentation.data.transforms import SegTransform

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
