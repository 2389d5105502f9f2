"""Unlabelled images for `predict`, the same for every task: a folder, listed in a stable order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from hrnet_lit.common.files import check_image, read_rgb
from hrnet_lit.common.normalize import image_tensor
from hrnet_lit.errors import InputError, MissingInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted so sample order is stable across machines."""
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


class ImageFolderPredict(Dataset[tuple[Tensor, str]]):
    """Every image in a folder as (uint8 image (3, H, W), path): the task normalises it on its device
    (`hrnet_lit.common.predictor.network_input`); the path's stem names the saved prediction,
    so two images with one stem (``x.png``, ``x.jpg``) are refused before anything is written, as is a
    file that is no image (`check_image`)."""

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
                    f"be saved under the name {path.stem!r}; rename one"
                )
            stems[path.stem] = path
            check_image(path)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, str]:
        path = self.paths[index]
        return image_tensor(np.array(read_rgb(path))), str(path)
