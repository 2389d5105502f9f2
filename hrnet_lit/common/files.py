"""File checks every on-disk dataset needs, whatever the task: folders that exist, images that decode,
and the one reader of images as 8-bit RGB that every task's data uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hrnet_lit.errors import InputError, MissingInputError


def require_dir(path: Path, layout: str, key: str | None = None) -> Path:
    """Fail early, with the expected layout, instead of yielding an empty dataset; `key` names the
    config key that gave the folder."""
    if not path.is_dir():
        where = f"{key}: " if key else ""
        raise MissingInputError(f"{where}dataset folder {path} not found\nexpected layout:\n{layout}")
    return path


def open_image(path: Path, what: str = "image") -> Image.Image:
    """The image at `path`, decoded (use it in a `with`); a file that PIL cannot read (truncated, not
    an image) is an error naming the file, where PIL alone says only "image file is truncated"."""
    file = None
    try:
        file = Image.open(path)
        file.load()
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:  # PIL reports broken files so
        if file is not None:
            file.close()
        raise InputError(f"cannot read {what} {path}: {error}") from error
    return file


# Greyscale modes of more than 8 bits: PIL's `convert("RGB")` clips them at 255 (a 16-bit image turns
# white), so they are scaled to 8 bits here. "I" is how PIL opens a 16-bit PNG in some versions.
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb(image: Image.Image, path: Path, what: str = "image") -> Image.Image:
    """`image` as 8-bit RGB: 16-bit greyscale scaled by 255 / 65535 (not clipped, as PIL's `convert`
    would), other modes through `convert`; a float image or one with values outside 0 ... 65535 is
    refused, naming `path`, since no scaling of it is the obvious one."""
    if image.mode in _SIXTEEN_BIT:
        pixels = np.asarray(image, dtype=np.int64)
        if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
            raise InputError(
                f"cannot read {what} {path}: its {image.mode} pixels range over {pixels.min()} ... "
                f"{pixels.max()}, outside 16 bits; save it as 8 or 16 bits per channel"
            )
        grey = np.round(pixels * (255.0 / 65535.0)).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "F":
        raise InputError(
            f"cannot read {what} {path}: it holds 32-bit float pixels (PIL mode F), which have no "
            "standard 8-bit scale; save it as 8 or 16 bits per channel"
        )
    return image.convert("RGB")


def check_image(path: Path, what: str = "image") -> None:
    """Refuse, naming it, a file that is no image or a float image, from its header alone (cheap);
    a file cut short shows when it is decoded (`open_image`)."""
    try:
        with Image.open(path) as image:
            mode = image.mode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise InputError(f"cannot read {what} {path}: {error}") from error
    if mode == "F":
        raise InputError(
            f"cannot read {what} {path}: it holds 32-bit float pixels (PIL mode F); save it as 8 or 16 bits"
        )


def read_rgb(path: Path, what: str = "image") -> Image.Image:
    """The image at `path` decoded as 8-bit RGB (`to_rgb`); unreadable files are errors naming it."""
    with open_image(path, what) as image:
        return to_rgb(image, path, what)
