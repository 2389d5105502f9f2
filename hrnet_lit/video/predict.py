"""`predict_video`: a predictor over every frame of a clip, into an annotated video and a results file
with one JSON line per frame."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hrnet_lit.common.atomic import atomic_path, writable_folder
from hrnet_lit.errors import InputError
from hrnet_lit.video.encode import video_writer
from hrnet_lit.video.frames import Frame, FrameSource, open_frames


class Result(Protocol):
    """What a predictor returns per image (`hrnet_lit.load(...).predict`)."""

    def to_json(self) -> dict[str, Any]: ...

    def draw(self, image: np.ndarray) -> np.ndarray: ...


class Predictor(Protocol):
    """Anything with `predict(list of (H, W, 3) uint8 images) -> one result per image`."""

    def predict(self, images: list[np.ndarray]) -> Sequence[Result]: ...


@dataclass(frozen=True)
class VideoPrediction:
    """What `predict_video` wrote: the annotated video, the results file, and their frames and rate."""

    video: Path
    results: Path
    frames: int
    fps: Fraction


def predict_video(
    predictor: Predictor,
    source: str | Path | FrameSource,
    output_dir: str | Path,
    fps: float | Fraction | None = None,
    name: str | None = None,
    batch_size: int = 1,
    max_frames: int | None = None,
) -> VideoPrediction:
    """Run `predictor` on every frame of `source` (a video file, a folder of frames at `fps`, or a
    `FrameSource` such as `CameraFrames`) and write `<output_dir>/<name>.mp4`, each frame as the
    result draws it, and `<output_dir>/<name>.jsonl`, one line `{"frame": index, "time": seconds,
    "result": result.to_json()}` per frame. `name` is the video's file stem or the folder's name
    unless given. Frames go to the predictor `batch_size` at a time; `max_frames` stops after that
    many. Neither file is replaced if it exists; both appear whole once every frame is done (a
    camera's at Ctrl-C, with the frames so far).
    """
    frames = open_frames(source, fps) if isinstance(source, str | Path) else source
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be >= 1, got {max_frames}")
    folder = Path(output_dir)
    writable_folder("output_dir", folder)
    stem = name or frames.name
    video, results = folder / f"{stem}.mp4", folder / f"{stem}.jsonl"
    for path in (video, results):
        if path.exists():
            raise InputError(f"{path} already exists (an earlier prediction?): choose another folder or name")
    folder.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(results) as lines_path,
        open(lines_path, "w") as lines,
        video_writer(video, frames.fps, frames.size) as sink,
    ):
        try:
            for batch in _batches(islice(frames, max_frames), batch_size):
                found = predictor.predict([frame.image for frame in batch])
                if len(found) != len(batch):
                    raise ValueError(f"the predictor gave {len(found)} results for {len(batch)} images")
                for frame, result in zip(batch, found, strict=True):
                    if frame.image.shape[:2] != frames.size:
                        raise InputError(
                            f"frame {frame.index} of {frames.name} is {frame.image.shape[1]}x"
                            f"{frame.image.shape[0]}, its first {frames.size[1]}x{frames.size[0]}: "
                            "a video has one size"
                        )
                    sink.write(result.draw(frame.image), frame.time)
                    line = {"frame": frame.index, "time": round(frame.time, 6), "result": result.to_json()}
                    lines.write(json.dumps(line) + "\n")
        except KeyboardInterrupt:
            if not frames.live or sink.count == 0:
                raise
    return VideoPrediction(video, results, sink.count, frames.fps)


def _batches(frames: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    iterator = iter(frames)
    while batch := list(islice(iterator, size)):
        yield batch
