"""One atomic write for everything a run writes (checkpoints, result files, images, exports)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to `path` to write to; it replaces `path` only when the block ends without
    an error. A run stopped mid-write leaves `path` as it was (at worst, on a hard kill, a hidden
    `.<name>.<pid>.tmp` beside it): `os.replace` is atomic on a local file system. The pid keeps DDP
    ranks that write side by side apart."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_atomically(image: Image.Image, path: Path, image_format: str) -> None:
    """Write an image whole or not at all."""
    with atomic_path(path) as temporary:
        image.save(temporary, format=image_format)
