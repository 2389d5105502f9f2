"""The annotated video out: H.264 in MP4 (what browsers, phones and desktop players all play), through
PyAV's own FFmpeg, written whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from hrnet_lit.common.atomic import atomic_path

# libx264 is in PyAV's wheels; MPEG-4 part 2 (FFmpeg's own encoder, in every build) is the fallback
# for an FFmpeg built without it, playable by VLC / ffplay but not by browsers.
ENCODERS = ("libx264", "mpeg4")
# x264's `veryfast` preset encodes about twice as fast as its default `medium`, for a file about 15%
# larger at the same quality (measured on a 640x480 synthetic clip): a drawn result is not an archive.
X264_OPTIONS = {"preset": "veryfast"}


def encoder() -> str:
    """The first of `ENCODERS` that this FFmpeg has."""
    for name in ENCODERS:
        try:
            av.codec.Codec(name, "w")
        except av.codec.codec.UnknownCodecError:
            continue
        return name
    raise RuntimeError(f"PyAV's FFmpeg has none of the encoders {', '.join(ENCODERS)}")


def even(image: np.ndarray) -> np.ndarray:
    """`image` with its last row / column repeated where its height / width is odd: YUV 4:2:0, the
    pixel format every player decodes, needs even sides. Coordinates do not move."""
    height, width = image.shape[:2]
    return np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


@contextmanager
def video_writer(path: Path, fps: Fraction, size: tuple[int, int]) -> Iterator[VideoSink]:
    """A sink for (H, W, 3) uint8 RGB frames of `size` (height, width), each with its time, on a clock
    of `fps` ticks a second; `path` (an .mp4) appears when the block ends without an error."""
    # the temporary name ends in .tmp: the container is named, not guessed from it
    with (
        atomic_path(path) as temporary,
        av.open(str(temporary), "w", format="mp4", options={"movflags": "faststart"}) as container,
    ):
        name = encoder()
        stream = container.add_stream(name, rate=fps, options=X264_OPTIONS if name == "libx264" else {})
        stream.height, stream.width = (side + side % 2 for side in size)
        stream.pix_fmt = "yuv420p"
        if name == "mpeg4":  # its default 200 kbit/s smears drawn lines: one bit per pixel
            stream.bit_rate = int(stream.width * stream.height * fps)
        sink = VideoSink(container, stream, fps, size)
        yield sink
        sink.flush()


class VideoSink:
    """Encodes frames into an open container's stream (built by `video_writer`)."""

    def __init__(
        self,
        container: av.container.OutputContainer,
        stream: av.VideoStream,
        fps: Fraction,
        size: tuple[int, int],
    ) -> None:
        self.container, self.stream, self.fps, self.size = container, stream, fps, size
        self.count, self.pts = 0, -1

    def write(self, image: np.ndarray, time: float) -> None:
        """Encode `image` to be shown at `time` (seconds), on the clock of `fps` ticks a second: a clip
        at a constant rate keeps it, one at a variable rate (a camera's) keeps its timing."""
        if image.shape != (*self.size, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"frame {self.count}: expected a {self.size[0]}x{self.size[1]}x3 uint8 image, "
                f"got {image.shape} {image.dtype}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(even(image)), format="rgb24")
        frame.pts = self.pts = max(self.pts + 1, round(time * self.fps))
        frame.time_base = 1 / self.fps
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def flush(self) -> None:
        self.container.mux(self.stream.encode(None))
