"""Frames in, one at a time and in order, from a video file (PyAV) or from a folder of images: each as
8-bit RGB with its index and its time, so a predictor sees what it sees for a single image."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from hrnet_lit.common.files import check_image, read_rgb
from hrnet_lit.common.images import IMAGE_SUFFIXES, list_images
from hrnet_lit.errors import InputError, MissingInputError


@dataclass(frozen=True)
class Frame:
    """One frame: its place in the clip, its time in seconds from the first frame, and its pixels
    ((H, W, 3) uint8 RGB)."""

    index: int
    time: float
    image: np.ndarray


class FrameSource(Protocol):
    """What `predict_video` reads: frames in order, their size (height, width), the rate to write
    them at, a name for the files, and whether the source is live (a camera: Ctrl-C ends its clip)."""

    name: str
    fps: Fraction
    size: tuple[int, int]
    live: bool

    def __iter__(self) -> Iterator[Frame]: ...


class VideoFrames:
    """The frames of a video file, decoded by PyAV (FFmpeg inside its wheels) and turned upright as the
    file's display matrix says (a phone's portrait clip). The first frame is decoded when this is
    built, so a missing file, one that is no video, has no video stream or no frame that decodes is
    refused before anything is predicted; a decoding error later names its frame."""

    live = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingInputError(f"video file {self.path} not found")
        with self._open() as container:
            if not container.streams.video:
                raise InputError(f"{self.path} holds no video stream (a sound file?)")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not rate:
                raise InputError(f"{self.path}: its video stream has no frame rate")
            self.fps = Fraction(rate)
        frames = iter(self)
        first = next(frames, None)
        frames.close()  # closes the file
        if first is None:
            raise InputError(f"video {self.path} has no frame that decodes (an empty or cut-short file?)")
        self.size = first.image.shape[:2]
        self.name = self.path.stem

    def _open(self) -> av.container.InputContainer:
        try:
            return av.open(str(self.path))
        except av.error.FFmpegError as error:
            raise InputError(f"cannot read video {self.path}: {error.strerror}") from None

    def __iter__(self) -> Iterator[Frame]:
        """Frames in presentation order; times count from the first frame (a stream may start later
        than 0), or are index / fps where the file gives none."""
        index, start = 0, None
        with self._open() as container:
            try:
                for decoded in container.decode(video=0):
                    time = decoded.time
                    if time is None:
                        time = float(index / self.fps)
                    start = time if start is None else start
                    yield Frame(index, time - start, upright(decoded))
                    index += 1
            except av.error.FFmpegError as error:
                raise InputError(
                    f"cannot decode frame {index} of video {self.path}: {error.strerror}"
                ) from None


def upright(frame: av.VideoFrame) -> np.ndarray:
    """The frame as (H, W, 3) uint8 RGB, rotated as its display matrix says (PyAV gives the angle
    counterclockwise, as `np.rot90` turns); a mirroring in the matrix is not applied."""
    image = frame.to_ndarray(format="rgb24")
    turns = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _natural_key(path: Path) -> list[int | str]:
    """`frame_2.png` before `frame_10.png`: runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class FolderFrames:
    """The images of a folder as the frames of a clip at `fps`, in natural order of their names
    (`2.png` before `10.png`). Every file is checked to be an image when this is built; all frames
    must have the first one's size, since a video has one."""

    live = False

    def __init__(self, folder: str | Path, fps: float | Fraction) -> None:
        self.path = Path(folder)
        if not self.path.is_dir():
            raise MissingInputError(f"folder of frames {self.path} not found")
        if not fps > 0:
            raise InputError(f"the frame rate of the folder of frames {self.path} must be > 0, got {fps}")
        self.paths = sorted(list_images(self.path), key=_natural_key)
        if not self.paths:
            raise MissingInputError(f"no {'/'.join(IMAGE_SUFFIXES)} images in folder of frames {self.path}")
        for path in self.paths:
            check_image(path, "frame")
        self.fps = Fraction(fps).limit_denominator(1001000)
        with read_rgb(self.paths[0], "frame") as first:
            self.size = (first.height, first.width)
        self.name = self.path.name

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            image = np.array(read_rgb(path, "frame"))  # writable, as a decoded video frame is
            if image.shape[:2] != self.size:
                raise InputError(
                    f"frame {path} is {image.shape[1]}x{image.shape[0]}, the first frame {self.paths[0]} "
                    f"{self.size[1]}x{self.size[0]}: the frames of a video share one size"
                )
            yield Frame(index, float(index / self.fps), image)


def open_frames(source: str | Path, fps: float | Fraction | None = None) -> VideoFrames | FolderFrames:
    """A video file's frames, or a folder's at `fps` (which a folder needs and a video file has)."""
    path = Path(source)
    if path.is_dir():
        if fps is None:
            raise InputError(f"{path} is a folder of frames: give its frame rate (fps)")
        return FolderFrames(path, fps)
    if fps is not None:
        raise InputError(f"{path} is a video file, which has its own frame rate: fps is only for a folder")
    return VideoFrames(path)


class CameraFrames:
    """A camera's frames through OpenCV (`cv2.VideoCapture`, optional: only this class needs it), until
    it stops giving frames or Ctrl-C, which ends the clip with the frames so far (`live`). Times are the
    wall clock's from the first frame, and the video shows each frame at its time (a frame stays
    on screen while the next one is predicted), on a clock of `fps` ticks a second (the camera's
    own rate where not given, else 30)."""

    live = True

    def __init__(self, index: int, fps: float | None = None) -> None:
        try:
            import cv2
        except ImportError:
            raise InputError("a camera is read through OpenCV: pip install opencv-python-headless") from None
        if fps is not None and not fps > 0:
            raise InputError(f"the frame rate of camera {index} must be > 0, got {fps}")
        self.capture = cv2.VideoCapture(index)
        ok, first = self.capture.read() if self.capture.isOpened() else (False, None)
        if not ok:
            self.capture.release()
            raise InputError(f"camera {index} cannot be opened or gives no frame")
        self.fps = Fraction(fps or self.capture.get(cv2.CAP_PROP_FPS) or 30).limit_denominator(1001000)
        self.size = first.shape[:2]
        self.name = f"camera{index}"

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        start, index = None, 0
        try:
            while True:
                ok, image = self.capture.read()
                if not ok:  # unplugged
                    return
                now = time.monotonic()
                start = now if start is None else start
                yield Frame(index, now - start, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
                index += 1
        finally:
            self.capture.release()
