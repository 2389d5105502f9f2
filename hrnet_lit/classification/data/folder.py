"""Image folders with one sub-folder per class (ImageNet's `train/<class>/*`, `val/<class>/*`, or a
researcher's own), listed by timm's folder dataset and checked so that a mistake is named, not skipped.

timm's folder reader silently drops what does not fit (an empty class folder becomes no class, a
val image of a class unknown to train is left out, an unreadable image is replaced by the next
one); here each of these is an `InputError` naming the folder or file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from timm.data import create_dataset
from timm.utils.misc import natural_key
from torch.utils.data import Dataset

from hrnet_lit.common.files import read_rgb_array, require_dir
from hrnet_lit.errors import InputError, MissingInputError

LAYOUT = """<root>/
  train/<class>/*.jpg|png|...   one folder per class, its images directly inside
  val/<class>/*                 the same class folder names (a subset of train's)
  test/<class>/*                optional; without it, test scores val"""


def class_folders(split_dir: Path) -> list[Path]:
    """The class folders of a split (hidden folders ignored), sorted by name."""
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_classes(train_dir: Path) -> tuple[str, ...]:
    """Class names, in timm's order (its `natural_key` sort of the train folder's class folders)."""
    require_dir(train_dir, LAYOUT, key="data.root")
    folders = class_folders(train_dir)
    if not folders:
        raise MissingInputError(f"no class folders in {train_dir}\nexpected layout:\n{LAYOUT}")
    return tuple(sorted((f.name for f in folders), key=natural_key))


class ClassificationFolder(Dataset[tuple[Any, int]]):
    """The images of one split as (transform(image), class index), classes indexed as in train.

    Args:
        split_dir: the split's folder, holding one folder per class.
        classes: class names of the train split, whose order gives the indices.
        transform: applied to each image, an RGB ``uint8`` array (H, W, 3).
    """

    def __init__(
        self, split_dir: Path, classes: tuple[str, ...], transform: Callable[[Any], Any] | None = None
    ) -> None:
        require_dir(split_dir, LAYOUT, key="data.root")
        class_to_idx = {name: k for k, name in enumerate(classes)}
        folders = class_folders(split_dir)
        unknown = [f for f in folders if f.name not in class_to_idx]
        if unknown:
            raise InputError(
                f"class folder {unknown[0]} is not a class of train ({len(unknown)} such folders: "
                f"{', '.join(f.name for f in unknown[:5])}); every class needs train images"
            )
        self.images = create_dataset("", root=str(split_dir), class_map=class_to_idx, search_split=False)
        self.samples: list[tuple[Path, int]] = [(Path(p), t) for p, t in self.images.reader.samples]
        counts = {f.name: 0 for f in folders}
        for path, _ in self.samples:
            if path.parent.parent == split_dir:
                counts[path.parent.name] += 1
        empty = [name for name, count in counts.items() if count == 0]
        if empty:
            raise MissingInputError(
                f"class folder {split_dir / empty[0]} holds no images directly inside it "
                f"({len(empty)} such folders)\nexpected layout:\n{LAYOUT}"
            )
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, target = self.samples[index]
        rgb = read_rgb_array(path)
        return (self.transform(rgb) if self.transform is not None else rgb), target
