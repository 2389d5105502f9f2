"""The official segmentation list files: one sample per line, `image_path label_path [...]`, relative to
the dataset root (HRNet-Semantic-Segmentation's `list/lip/*.txt`, PASCAL-Context's `*.lst`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from torch.utils.data import Dataset

from hrnet_lit.common.files import require_dir
from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.segmentation.data.datamodules import PublishedDataModule
from hrnet_lit.segmentation.data.dataset import SegmentationDataset
from hrnet_lit.segmentation.data.transforms import SegTransform


def read_list(root: Path, list_file: str, key: str, layout: str) -> list[tuple[Path, Path]]:
    """(image, label) paths of each line of `root / list_file`; further columns (LIP's reversed
    label) are not read. A missing list, short line or missing file is named."""
    path = root / list_file
    if not path.is_file():
        raise MissingInputError(f"{key}: list file {path} not found\nexpected layout:\n{layout}")
    pairs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise InputError(f"{key}: {path} line {number}: expected `image_path label_path`, got {line!r}")
        image, label = root / fields[0], root / fields[1]
        for what, file in (("image", image), ("label", label)):
            if not file.is_file():
                raise MissingInputError(f"{key}: {path} line {number}: {what} {file} not found")
        pairs.append((image, label))
    if not pairs:
        raise InputError(f"{key}: {path} lists no sample")
    return pairs


class ListSegmentation(SegmentationDataset):
    """The samples of an official list file under `root`; a subclass sets its classes and `layout`."""

    layout: ClassVar[str]

    def __init__(
        self, root: str | Path, list_file: str, transform: SegTransform | None = None, key: str = ""
    ) -> None:
        root = require_dir(Path(root), self.layout, key="data.root")
        super().__init__(read_list(root, list_file, key, self.layout), transform)


class ListDataModule(PublishedDataModule):
    """A published dataset read through its official list files (`lists`: split -> list file, relative
    to `root`, named by `data.<split>_list`); `test` scores val."""

    source: ClassVar[type[ListSegmentation]]  # type: ignore[assignment]
    lists: dict[str, str]

    def make_dataset(self, split: str, transform: SegTransform) -> Dataset:
        return self.source(self.root, self.lists[split], transform, f"data.{split}_list")
