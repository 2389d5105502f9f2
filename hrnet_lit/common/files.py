"""File checks every on-disk dataset needs, whatever the task: folders that exist, images that decode,
and the one reader of images as 8-bit RGB that every task's data uses.

The reader decodes 8-bit JPEG and PNG files with OpenCV (libjpeg-turbo, libpng), 1.3-1.8x faster than
PIL on one core and pixel-identical to PIL's decoding of them (both call the same libraries the same
way; `tests/test_decoder.py` checks it); torchvision's decoders are as fast but deprecated since
torchvision 0.29. Anything else (16-bit, CMYK, 1-bit, other formats) and every file OpenCV refuses
goes through PIL, which names a broken file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
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
    """The image at `path` decoded as 8-bit RGB (`read_rgb_array`), as a PIL image."""
    return Image.fromarray(read_rgb_array(path, what), "RGB")


def read_rgb_array(path: Path, what: str = "image") -> np.ndarray:
    """The image at `path` as an RGB ``uint8`` array (H, W, 3): PIL's pixels (`to_rgb`), decoded by
    OpenCV where that is the same; unreadable files are errors naming it."""
    data = _read_bytes(path, what)
    if _opencv_decodes(data):
        # EXIF orientation ignored, as PIL does; a broken file gives None and PIL's error below.
        rgb = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
        if rgb is not None:
            return rgb
    with open_image(path, what) as image:
        return np.asarray(to_rgb(image, path, what))


def read_labels(path: Path, what: str = "mask") -> np.ndarray:
    """A single-channel label image at `path` as stored (H, W), one class id per pixel: 8-bit grey PNGs
    decoded by OpenCV, the rest (palette, 16-bit, 32-bit integer) by PIL; any other mode is refused."""
    data = _read_bytes(path, what)
    if _png_header(data) == (8, 0):
        labels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if labels is not None and labels.ndim == 2:
            return labels
    with open_image(path, what) as image:
        if image.mode not in _LABEL_MODES:
            raise InputError(
                f"{what} {path} has mode {image.mode}; expected a single-channel label image "
                f"(one of {', '.join(_LABEL_MODES)}) whose pixel values are class ids"
            )
        return np.array(image)


def _read_bytes(path: Path, what: str) -> np.ndarray:
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise InputError(f"cannot read {what} {path}: {error}") from error


_LABEL_MODES = ("L", "P", "I", "I;16")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types whose 8-bit pixels OpenCV's RGB decoding gives as PIL's convert("RGB") does:
# grey, RGB, palette, grey + alpha, RGBA (alpha dropped, not blended, by both).
_PNG_RGB_TYPES = (0, 2, 3, 4, 6)
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _png_header(data: np.ndarray) -> tuple[int, int] | None:
    """(bit depth, colour type) of a PNG's header, or None for anything else."""
    if data.size < 26 or data[:8].tobytes() != _PNG_SIGNATURE or data[12:16].tobytes() != b"IHDR":
        return None
    return int(data[24]), int(data[25])


def _jpeg_components(data: np.ndarray) -> int | None:
    """Colour components of a complete JPEG's frame (1 grey, 3 YCbCr / RGB, 4 CMYK), or None for
    anything else: no JPEG, or one cut short (no end marker), which PIL refuses and libjpeg would
    fill with grey."""
    size = data.size
    if size < 4 or data[0] != 0xFF or data[1] != 0xD8 or data[-2] != 0xFF or data[-1] != 0xD9:
        return None
    at = 2
    while at + 9 < size:
        if data[at] != 0xFF:
            return None
        marker = int(data[at + 1])
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_FRAMES:
            return int(data[at + 9])
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        at += 2 + (int(data[at + 2]) << 8 | int(data[at + 3]))
    return None


def _opencv_decodes(data: np.ndarray) -> bool:
    """Whether OpenCV's RGB decoding of `data` gives PIL's pixels: an 8-bit PNG of a known colour type,
    or a complete grey or colour (not CMYK) JPEG."""
    png = _png_header(data)
    if png is not None:
        return png[0] == 8 and png[1] in _PNG_RGB_TYPES
    return _jpeg_components(data) in (1, 3)
