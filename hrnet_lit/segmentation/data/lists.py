"""The official segmentation list files: one sample per line, `image_path label_path [...]`, relative to
the dataset root (HRNet-Semantic-Segmentation's `list/lip/*.txt`, PASCAL-Context's `*.lst`)."""

from __future__ import annotations

from pathlib import Path

from hrnet_lit.errors import InputError, MissingInputError


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
