"""`hrnet-lit predict` on a video: when `--data.predict_dir` names a file (or `--video.fps` asks for a
video from a folder of frames, or `--video.camera` names a camera), the checkpoint's Python predictor
(`hrnet_lit.load`) runs on every frame and `predict_video` writes `<output_dir>/<clip>.mp4` and
`<output_dir>/<clip>.jsonl`.

This route does not go through the Lightning Trainer: the predictor is the same code that `predict` on
images runs, and a clip is a stream of frames, not a dataset. It takes the flags below and refuses
every other one by name, so that no flag is dropped without a word.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hrnet_lit.cli.flags import plain_key
from hrnet_lit.errors import InputError

if TYPE_CHECKING:
    from hrnet_lit.video import FrameSource

# The flags of predict on a video, each with what it does there.
FLAGS = {
    "ckpt_path": "the `hrnet-lit fit` checkpoint to predict with",
    "data.predict_dir": "the video file, or the folder of frames",
    "predict_writer.output_dir": "the folder for <clip>.mp4 and <clip>.jsonl",
    "video.fps": "the frame rate of a folder of frames (asks for a video from it), or of a camera's clock",
    "video.camera": "the index of a camera (OpenCV) to read instead of --data.predict_dir; Ctrl-C ends it",
    "video.max_frames": "stop after this many frames",
    "video.batch_size": "frames per forward pass (default 1)",
    "trainer.accelerator": "auto (default), cpu, gpu / cuda or mps: where the predictor runs",
    "trainer.precision": "the predictor's precision: 32 (default), 16-mixed or bf16-mixed",
    "data.person_detector": "pose only: a person detector file (a detection checkpoint or torchvision "
    "Faster R-CNN weights) whose boxes are the persons of each frame",
    "data.image_thre": "pose only: detector boxes scoring below it are dropped (default 0.0)",
}
# The flags handed to `hrnet_lit.load` as the predictor's own options.
LOAD_OPTIONS = {"data.person_detector": "detector", "data.image_thre": "image_thre"}
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")
_DEVICES = {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda", "mps": "mps"}


def _pairs(args: list[str]) -> list[tuple[str, str | None]]:
    """(plain key, value) per argument: `--key=value`, `--key value`, or a word that is no flag (None)."""
    pairs: list[tuple[str, str | None]] = []
    k = 0
    while k < len(args):
        key, eq, value = args[k].partition("=")
        if not key.startswith("-"):
            pairs.append((key, None))
        elif eq:
            pairs.append((plain_key(key), value))
        elif k + 1 < len(args) and not args[k + 1].startswith("--"):
            pairs.append((plain_key(key), args[k + 1]))
            k += 1
        else:
            pairs.append((plain_key(key), None))
        k += 1
    return pairs


def is_video_predict(args: list[str]) -> bool:
    """Whether the `predict` flags `args` ask for a video: `--data.predict_dir` names a file, or a name
    with a video's suffix, or `--video.*` is given."""
    found = dict(_pairs(args))
    source = found.get("data.predict_dir")
    if any(key.startswith("video.") for key in found):
        return True
    return source is not None and (Path(source).is_file() or Path(source).suffix.lower() in VIDEO_SUFFIXES)


def video_flags(args: list[str]) -> dict[str, Any]:
    """The flags of `args` as values; one that predict on a video does not take is refused by name."""
    values: dict[str, Any] = {}
    for key, value in _pairs(args):
        if key not in FLAGS:
            taken = ", ".join(f"--{k}" for k in FLAGS)
            raise InputError(
                f"predict on a video takes {taken}, not --{key}: the predictor comes with its settings "
                "from --ckpt_path (drop the flag)"
            )
        if value is None:
            raise InputError(f"--{key} has no value")
        parsed = key.startswith("video.") or key == "data.image_thre"
        values[key] = yaml.safe_load(value) if parsed else value
    for key in ("ckpt_path", "predict_writer.output_dir"):
        if key not in values:
            raise InputError(f"--{key} is not set: {FLAGS[key]}")
    if ("data.predict_dir" in values) == ("video.camera" in values):
        raise InputError(
            "give one of --data.predict_dir (a video file or a folder of frames) and --video.camera"
        )
    for key in ("video.camera", "video.max_frames", "video.batch_size"):
        smallest = 0 if key == "video.camera" else 1
        if key in values and (type(values[key]) is not int or values[key] < smallest):
            raise InputError(f"--{key}={values[key]} must be an integer >= {smallest}")
    for key in ("video.fps", "data.image_thre"):
        if key in values and type(values[key]) not in (int, float):
            raise InputError(f"--{key}={values[key]} must be a number")
    if "data.image_thre" in values and "data.person_detector" not in values:
        raise InputError("--data.image_thre is the threshold of --data.person_detector, which is not set")
    return values


def device(accelerator: str) -> str:
    """The torch device of a Lightning `--trainer.accelerator`."""
    if accelerator == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if accelerator not in _DEVICES:
        raise InputError(
            f"--trainer.accelerator={accelerator}: expected auto or one of {', '.join(_DEVICES)}"
        )
    return _DEVICES[accelerator]


def usage() -> str:
    lines = ["usage: hrnet-lit predict --ckpt_path=FILE --data.predict_dir=VIDEO|FOLDER [flags]", ""]
    lines += [f"  --{key:<27}{line}" for key, line in FLAGS.items()]
    return "\n".join(lines)


def main(args: list[str]) -> None:
    """`hrnet-lit predict` on a video (see the module docstring)."""
    if "--help" in args or "-h" in args:
        print(usage())
        return
    values = video_flags(args)
    from hrnet_lit.common.atomic import writable_folder
    from hrnet_lit.video import CameraFrames, predict_video

    checkpoint = Path(values["ckpt_path"])
    if not checkpoint.is_file():
        raise InputError(f"--ckpt_path={checkpoint}: no such file")
    detector = values.get("data.person_detector")
    if detector is not None and not Path(detector).is_file():
        raise InputError(f"--data.person_detector={detector}: no such file")
    output = Path(values["predict_writer.output_dir"])
    writable_folder("predict_writer.output_dir", output)
    fps = values.get("video.fps")
    if "video.camera" in values:
        frames = CameraFrames(values["video.camera"], fps)
    else:
        frames = source_frames(Path(values["data.predict_dir"]), fps)
    options = {name: values[key] for key, name in LOAD_OPTIONS.items() if key in values}
    predictor = load_predictor(
        str(checkpoint),
        device(values.get("trainer.accelerator", "auto")),
        predictor_precision(values.get("trainer.precision")),
        **options,
    )
    done = predict_video(
        predictor,
        frames,
        output,
        batch_size=values.get("video.batch_size", 1),
        max_frames=values.get("video.max_frames"),
    )
    print(f"{done.frames} frames at {float(done.fps):g} fps: {done.video}, {done.results}")


def source_frames(source: Path, fps: float | None) -> FrameSource:
    """The frames of `--data.predict_dir`, its errors naming the key."""
    from hrnet_lit.common.images import IMAGE_SUFFIXES
    from hrnet_lit.video import open_frames

    if source.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(
            f"data.predict_dir={source} is an image, not a video: predict on images takes their folder"
        )
    if source.is_dir() and fps is None:
        raise InputError(f"data.predict_dir={source} is a folder: --video.fps=<rate> makes a video of it")
    try:
        return open_frames(source, fps)
    except InputError as error:
        raise type(error)(f"data.predict_dir: {error}") from None


def predictor_precision(value: str | None) -> str | None:
    """`--trainer.precision` in the predictor's vocabulary (Lightning's `16` / `bf16` are its
    `16-mixed` / `bf16-mixed`); one the predictor has no autocast for is refused by name."""
    from hrnet_lit.common.predictor import PRECISIONS

    value = {"16": "16-mixed", "bf16": "bf16-mixed"}.get(str(value), value) if value is not None else None
    if value not in PRECISIONS:
        taken = ", ".join(str(p) for p in PRECISIONS if p is not None)
        raise InputError(f"--trainer.precision={value}: predict on a video takes {taken}")
    return value


def load_predictor(checkpoint: str, device: str, precision: str | None, **options: Any) -> Any:
    """The checkpoint's Python predictor, the one `predict` on images uses; `options` are the task's
    (pose: `detector`, `image_thre`)."""
    import hrnet_lit

    return hrnet_lit.load(checkpoint, device=device, precision=precision, **options)
