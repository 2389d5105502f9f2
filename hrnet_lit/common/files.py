"""File checks every on-disk dataset needs, whatever the task: folders that exist, images that decode."""

from __future__ import annotations

from pathlib import Path

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
    except (OSError, SyntaxError) as error:  # PIL reports broken files as either
        if file is not None:
            file.close()
        raise InputError(f"cannot read {what} {path}: {error}") from error
    return file
