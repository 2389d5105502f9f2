"""One atomic write for everything a run writes (checkpoints, result files, images, exports), and the
check, before a run starts, that where it writes can be written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from hrnet_lit.errors import InputError


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
        if temporary.is_file():  # a writer may create it 0600 (a temporary file's mode): as open() would
            temporary.chmod(0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_atomically(image: Image.Image, path: Path, image_format: str) -> None:
    """Write an image whole or not at all."""
    with atomic_path(path) as temporary:
        image.save(temporary, format=image_format)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable_folder(key: str, folder: Path) -> None:
    """An `InputError` naming `key` unless `folder` is, or can be made, a folder that can be written
    (a file in its place, or a read-only folder above it, is found here, not at the first save);
    the check leaves nothing behind."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{key}={folder} is a file, not a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{key}={folder}: {existing} is a file, not a folder")
    try:
        Path(tempfile.mkdtemp(prefix=".hrnet-lit-", dir=existing)).rmdir()
    except OSError as error:
        raise InputError(
            f"{key}={folder}: nothing can be written into {existing} (read-only: {error.strerror})"
        ) from None
