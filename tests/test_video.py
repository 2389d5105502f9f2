"""Video for `predict`: frames in from a video file (PyAV) or a folder of frames, the annotated video
and the per-frame results file out, through `predict_video` and through `hrnet-lit predict`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np
import pytest
from bad_input import Case, refusal
from helpers import square, write_clip
from PIL import Image

import hrnet_lit
from hrnet_lit.cli import main
from hrnet_lit.cli.video import FLAGS, is_video_predict
from hrnet_lit.video import CameraFrames, FolderFrames, Frame, VideoFrames, predict_video

FRAMES, HEIGHT, WIDTH, FPS = 8, 48, 64, 12  # helpers.write_clip's


def read_clip(path: Path) -> tuple[list[np.ndarray], Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)], stream.average_rate


def square_left(image: np.ndarray) -> int:
    """The leftmost column of the white square (rows 16-32), robust to the codec's blur."""
    return int(np.argmax(image[20:28, :, 0].mean(0) > 160))


class Marked:
    """A result: the frame's mean brightness; drawn as a red top row."""

    def __init__(self, image: np.ndarray) -> None:
        self.mean = float(image.mean())

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean}

    def draw(self, image: np.ndarray) -> np.ndarray:
        drawn = image.copy()
        drawn[:4] = (255, 0, 0)
        return drawn


class FakePredictor:
    """`predict(list of images) -> one result per image`, recording the batch sizes it was given."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict(self, images: list[np.ndarray]) -> list[Marked]:
        assert all(i.dtype == np.uint8 and i.ndim == 3 and i.shape[2] == 3 for i in images)
        assert all(i.flags.writeable for i in images), "a predictor may draw on the frame it is given"
        self.batches.append(len(images))
        return [Marked(image) for image in images]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_video_file_reads_back(tmp_path: Path) -> None:
    clip = VideoFrames(write_clip(tmp_path / "clip.mp4"))
    assert (clip.name, clip.fps, clip.size) == ("clip", FPS, (HEIGHT, WIDTH))
    frames = list(clip)
    assert [f.index for f in frames] == list(range(FRAMES))
    assert [f.time for f in frames] == pytest.approx([k / FPS for k in range(FRAMES)])
    assert all(f.image.shape == (HEIGHT, WIDTH, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [square_left(f.image) for f in frames] == pytest.approx([4 + 5 * k for k in range(FRAMES)], abs=1)


def test_predict_video_writes_annotated_video_and_one_line_per_frame(tmp_path: Path) -> None:
    predictor = FakePredictor()
    done = predict_video(predictor, write_clip(tmp_path / "clip.mp4"), tmp_path / "out", batch_size=3)
    assert predictor.batches == [3, 3, 2]
    assert (done.video, done.results) == (tmp_path / "out" / "clip.mp4", tmp_path / "out" / "clip.jsonl")
    assert (done.frames, done.fps) == (FRAMES, FPS)
    assert sorted(os.listdir(tmp_path / "out")) == ["clip.jsonl", "clip.mp4"]  # no temporary left
    assert {oct(p.stat().st_mode & 0o777) for p in (done.video, done.results)} == {oct(0o666 & ~umask())}
    images, rate = read_clip(done.video)
    assert rate == FPS and len(images) == FRAMES
    assert all(i.shape == (HEIGHT, WIDTH, 3) for i in images)
    for k, image in enumerate(images):
        assert image[1, :, 0].mean() > 200 and image[1, :, 1].mean() < 60, "the red row drawn"
        assert square_left(image) == pytest.approx(4 + 5 * k, abs=1), "frames in order"
    rows = lines(done.results)
    assert [r["frame"] for r in rows] == list(range(FRAMES))
    assert [r["time"] for r in rows] == pytest.approx([k / FPS for k in range(FRAMES)], abs=1e-6)
    assert [r["result"]["mean"] for r in rows] == pytest.approx(
        [60 + 195 * 256 / (HEIGHT * WIDTH)] * 8, abs=2
    )


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_frames(folder: Path, indices: list[int], size: tuple[int, int] = (HEIGHT, WIDTH)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in indices:
        Image.fromarray(square(k, *size)).save(folder / f"frame_{k}.png")
    return folder


def test_folder_of_frames_in_natural_order_at_the_given_rate(tmp_path: Path) -> None:
    folder = write_frames(tmp_path / "shots", [0, 1, 2, 10, 3])  # frame_10 sorts after frame_3
    frames = list(FolderFrames(folder, fps=5))
    assert [square_left(f.image) for f in frames] == [4 + 5 * k for k in (0, 1, 2, 3, 10)]
    assert [f.time for f in frames] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])
    done = predict_video(FakePredictor(), folder, tmp_path / "out", fps=5)
    assert done.video.name == "shots.mp4" and done.frames == 5 and done.fps == 5
    assert len(read_clip(done.video)[0]) == 5 and len(lines(done.results)) == 5


def test_odd_sized_frames_are_padded_to_even_sides(tmp_path: Path) -> None:
    """YUV 4:2:0 needs even sides: the last row and column repeat; results keep the frame's size."""
    folder = write_frames(tmp_path / "odd", [0, 1], size=(HEIGHT - 1, WIDTH - 3))
    done = predict_video(FakePredictor(), folder, tmp_path / "out", fps=2)
    images, _ = read_clip(done.video)
    assert [i.shape for i in images] == [(HEIGHT, WIDTH - 2, 3)] * 2


def text_file(tmp: Path, name: str = "clip.mp4") -> Path:
    path = tmp / name
    path.write_text("not a video")
    return path


def cut_short(tmp: Path) -> Path:
    data = write_clip(tmp / "whole.mp4").read_bytes()
    path = tmp / "cut.mp4"
    path.write_bytes(data[: len(data) // 3])
    return path


def sound(tmp: Path) -> Path:
    path = tmp / "sound.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def existing_output(tmp: Path) -> Path:
    (tmp / "out").mkdir()
    (tmp / "out" / "clip.jsonl").write_text("")
    return write_clip(tmp / "clip.mp4")


def other_size(tmp: Path) -> Path:
    folder = write_frames(tmp / "frames", [0])
    Image.fromarray(square(1, HEIGHT, WIDTH + 2)).save(folder / "frame_1.png")
    return folder


def empty(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


class Shots:
    """A `FrameSource` of given images at 10 fps (a camera that changes its resolution, here)."""

    name, fps, live = "shots", Fraction(10), False

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images, self.size = images, images[0].shape[:2]

    def __iter__(self) -> Iterator[Frame]:
        return (Frame(k, k / 10, image) for k, image in enumerate(self.images))


API_CASES = [
    Case("missing", lambda t: lambda: VideoFrames(t / "nowhere.mp4"), r"video file .*nowhere\.mp4 not found"),
    Case("not a video", lambda t: lambda: VideoFrames(text_file(t)), r"cannot read video .*clip\.mp4"),
    Case("sound only", lambda t: lambda: VideoFrames(sound(t)), r"sound\.wav holds no video stream"),
    Case("cut short", lambda t: lambda: list(VideoFrames(cut_short(t))), r"cut\.mp4"),
    Case("empty folder", lambda t: lambda: FolderFrames(empty(t), 5), r"no .*images in folder .*empty"),
    Case(
        "folder, no fps", lambda t: lambda: predict_video(FakePredictor(), empty(t), t), r"empty.*frame rate"
    ),
    Case(
        "video with fps",
        lambda t: lambda: predict_video(FakePredictor(), write_clip(t / "c.mp4"), t / "o", fps=3),
        r"c\.mp4 is a video file.*own frame rate",
    ),
    Case(
        "zero fps", lambda t: lambda: FolderFrames(write_frames(t / "f", [0]), 0), r"frame rate .* > 0, got 0"
    ),
    Case(
        "frame of another size",
        lambda t: lambda: list(FolderFrames(other_size(t), 5)),
        r"frame_1\.png is 66x48",
    ),
    Case(
        "size changes",
        lambda t: lambda: predict_video(FakePredictor(), Shots([square(0), square(1, 32, 32)]), t),
        r"frame 1 of shots is 32x32, its first 64x48: a video has one size",
    ),
    Case("not an image", lambda t: lambda: FolderFrames(text_file(empty(t), "a.png").parent, 5), r"a\.png"),
    Case(
        "output exists",
        lambda t: lambda: predict_video(FakePredictor(), existing_output(t), t / "out"),
        r"clip\.jsonl already exists",
    ),
    Case(
        "output is a file",
        lambda t: lambda: predict_video(FakePredictor(), write_clip(t / "c.mp4"), text_file(t, "o")),
        r"output_dir=.*o is a file",
    ),
    Case(
        "batch size 0",
        lambda t: lambda: predict_video(FakePredictor(), write_clip(t / "c.mp4"), t, batch_size=0),
        r"batch_size must be >= 1, got 0",
    ),
]


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.id)
def test_bad_input_is_refused_by_name(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message, _ = refusal(case, tmp_path, capsys)
    assert re.search(case.names, message), message
    assert not list(tmp_path.rglob(".*.tmp")), "a temporary file was left behind"


def fake_load(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """`hrnet_lit.load` replaced by one that returns `FakePredictor`, recording its calls."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def load(path: str, **options: Any) -> FakePredictor:
        calls.append((path, options))
        return FakePredictor()

    monkeypatch.setattr(hrnet_lit, "load", load, raising=False)
    return calls


def test_cli_predict_on_a_video_and_on_a_folder_of_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_load(monkeypatch)
    ckpt = tmp_path / "last.ckpt"
    ckpt.write_bytes(b"")
    out = tmp_path / "out"
    clip = write_clip(tmp_path / "clip.mp4")
    main(
        ["predict", f"--ckpt_path={ckpt}", f"--data.predict_dir={clip}", f"--predict_writer.output_dir={out}"]
    )
    main(
        [
            "predict",
            "--ckpt_path",
            str(ckpt),
            f"--data.init_args.predict_dir={write_frames(tmp_path / 'shots', [0, 1, 2])}",
            f"--predict_writer.output_dir={out}",  # a folder may collect several clips
            "--video.fps=2",
            "--video.batch_size=2",
            "--trainer.accelerator=cpu",
            "--trainer.precision=bf16-mixed",
        ]
    )
    assert calls == [
        (str(ckpt), {"device": "cpu", "precision": None}),  # auto: no GPU here
        (str(ckpt), {"device": "cpu", "precision": "bf16-mixed"}),
    ]
    assert sorted(os.listdir(out)) == ["clip.jsonl", "clip.mp4", "shots.jsonl", "shots.mp4"]
    assert len(read_clip(out / "clip.mp4")[0]) == FRAMES and len(lines(out / "clip.jsonl")) == FRAMES
    images, rate = read_clip(out / "shots.mp4")
    assert (len(images), rate) == (3, 2) and len(lines(out / "shots.jsonl")) == 3


def cli_case(id: str, flags: list[str], names: str) -> Case:
    """`hrnet-lit predict` on `clip.mp4` with a checkpoint file and `out/`, `flags` added or replacing."""

    def make(tmp: Path) -> list[str]:
        (tmp / "last.ckpt").write_bytes(b"")
        write_clip(tmp / "clip.mp4")
        Image.fromarray(square(0)).save(tmp / "x.png")
        base = {
            "--ckpt_path": str(tmp / "last.ckpt"),
            "--data.predict_dir": str(tmp / "clip.mp4"),
            "--predict_writer.output_dir": str(tmp / "out"),
        }
        for flag in flags:
            key, _, value = flag.partition("=")
            base[key] = value.replace("TMP", str(tmp)) if value else None
        return ["predict", *(k if v is None else f"{k}={v}" for k, v in base.items())]

    return Case(id, make, names)


CLI_CASES = [
    cli_case("another flag", ["--model.eval_scales=[1.0]"], r"not --model\.eval_scales.*drop the flag"),
    cli_case("a config", ["--config=configs/quickstart.yaml"], r"not --config"),
    cli_case("no checkpoint", ["--ckpt_path=TMP/none.ckpt"], r"--ckpt_path=.*none\.ckpt: no such file"),
    cli_case("no output", ["--predict_writer.output_dir"], r"--predict_writer\.output_dir has no value"),
    cli_case(
        "missing video", ["--data.predict_dir=TMP/gone.mp4"], r"data\.predict_dir: video file .*gone\.mp4"
    ),
    cli_case(
        "not a video", ["--data.predict_dir=configs/quickstart.yaml"], r"data\.predict_dir: cannot read video"
    ),
    cli_case("an image", ["--data.predict_dir=TMP/x.png"], r"x\.png is an image, not a video"),
    cli_case(
        "folder without fps",
        ["--data.predict_dir=TMP", "--video.batch_size=1"],
        r"is a folder: --video\.fps=<rate> makes a video of it",
    ),
    cli_case("fps not a number", ["--video.fps=fast"], r"--video\.fps=fast must be a number"),
    cli_case("batch size 0", ["--video.batch_size=0"], r"--video\.batch_size=0 must be an integer >= 1"),
    cli_case(
        "max frames true", ["--video.max_frames=true"], r"--video\.max_frames=True must be an integer >= 1"
    ),
    cli_case("camera and file", ["--video.camera=0"], r"one of --data\.predict_dir .* and --video\.camera"),
    cli_case("no source", ["--data.predict_dir", "--video.fps=3"], r"--data\.predict_dir has no value"),
    cli_case("accelerator", ["--trainer.accelerator=tpu"], r"--trainer\.accelerator=tpu: expected auto or"),
    cli_case(
        "precision", ["--trainer.precision=64"], r"--trainer\.precision=64: predict on a video takes 32"
    ),
    cli_case(
        "no detector",
        ["--data.person_detector=TMP/gone.ckpt"],
        r"--data\.person_detector=.*gone\.ckpt: no such",
    ),
    cli_case("threshold alone", ["--data.image_thre=0.5"], r"--data\.image_thre .* --data\.person_detector"),
    cli_case(
        "threshold a word",
        ["--data.person_detector=TMP/last.ckpt", "--data.image_thre=high"],
        r"--data\.image_thre=high must be a number",
    ),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_cli_bad_input_is_refused_by_name(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_load(monkeypatch)
    message, through_cli = refusal(case, tmp_path, capsys)
    assert through_cli and re.search(case.names, message), message
    assert not (tmp_path / "out").exists()


def test_cli_a_detector_for_another_task_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_predictors import save_checkpoint

    def make(tmp: Path) -> list[str]:
        ckpt = save_checkpoint("classification", tmp / "classes.ckpt")
        clip = write_clip(tmp / "clip.mp4", frames=1)
        return ["predict", f"--ckpt_path={ckpt}", f"--data.predict_dir={clip}",
                f"--predict_writer.output_dir={tmp / 'out'}", f"--data.person_detector={ckpt}"]  # fmt: skip

    message, through_cli = refusal(Case("detector", make, ""), tmp_path, capsys)
    assert through_cli and re.search(r"classification model, whose predictor takes no detector", message)
    assert not (tmp_path / "out" / "clip.mp4").exists()


# Each task's fields of a frame's result (`to_json()`), and the list in it that holds what was found.
RESULT_FIELDS: dict[str, tuple[set[str], str]] = {
    "segmentation": ({"height", "width", "class_names", "mask"}, "mask"),
    "pose": ({"joint_names", "persons"}, "persons"),
    "classification": ({"classes", "names", "probs"}, "classes"),
    "detection": ({"objects"}, "objects"),
    "instance": ({"objects"}, "objects"),
    "landmarks": ({"faces"}, "faces"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RESULT_FIELDS))
def test_cli_predict_on_a_video_for_every_task(name: str, tmp_path: Path) -> None:
    """`hrnet-lit predict` on a clip with a tiny checkpoint of each task (pose with a person detector):
    the clip's frames drawn at its size and rate, and per frame the predictor's result on that frame."""
    from test_person_detector import detection_checkpoint
    from test_predictors import save_checkpoint

    ckpt = save_checkpoint(name, tmp_path / f"{name}.ckpt")
    clip = write_clip(tmp_path / "clip.mp4", frames=3)
    out = tmp_path / "out"
    flags = [f"--ckpt_path={ckpt}", f"--data.predict_dir={clip}", f"--predict_writer.output_dir={out}"]
    options: dict[str, Any] = {}
    if name == "pose":
        detector = tmp_path / "detector.ckpt"
        detection_checkpoint(detector, ["person"])
        flags += [f"--data.person_detector={detector}", "--data.image_thre=0.1"]
        options = {"detector": str(detector), "image_thre": 0.1}
    main(["predict", *flags, "--trainer.accelerator=cpu"])
    images, rate = read_clip(out / "clip.mp4")
    assert (len(images), rate) == (3, FPS) and images[0].shape == (HEIGHT, WIDTH, 3)
    rows = lines(out / "clip.jsonl")
    assert [r["frame"] for r in rows] == [0, 1, 2]
    fields, found = RESULT_FIELDS[name]
    assert all(fields <= set(r["result"]) and r["result"][found] for r in rows), rows[0]["result"].keys()
    predictor = hrnet_lit.load(str(ckpt), **options)
    expected = [predictor.predict(f.image) for f in VideoFrames(clip)]  # a frame at a time, as the CLI
    assert [r["result"] for r in rows] == [json.loads(json.dumps(e.to_json())) for e in expected]


def test_a_rotated_clip_is_read_upright(tmp_path: Path) -> None:
    """A phone's portrait clip: frames stored landscape, a display matrix turning them clockwise."""
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.height, stream.width, stream.pix_fmt = HEIGHT, WIDTH, "yuv420p"
        stream.set_display_rotation(-90)
        for k in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(square(k), format="rgb24")))
        container.mux(stream.encode(None))
    clip = VideoFrames(path)
    assert clip.size == (WIDTH, HEIGHT)
    for k, frame in enumerate(clip):
        turned = np.rot90(square(k), -1)  # clockwise: the square's top edge becomes its right edge
        assert np.abs(frame.image.astype(int) - turned).mean() < 3


def test_without_libx264_the_video_is_mpeg4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hrnet_lit.video.encode.ENCODERS", ("libnothing", "mpeg4"))
    done = predict_video(FakePredictor(), write_clip(tmp_path / "clip.mp4"), tmp_path / "out")
    with av.open(str(done.video)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
    images, rate = read_clip(done.video)
    assert (len(images), rate) == (FRAMES, FPS)
    assert [square_left(i) for i in images] == pytest.approx([4 + 5 * k for k in range(FRAMES)], abs=1)


class FakeCapture:
    """`cv2.VideoCapture` of a camera that gives `count` frames (BGR, as OpenCV does), then stops, or
    is interrupted by Ctrl-C at frame `interrupt`."""

    opened: ClassVar[list[FakeCapture]] = []

    def __init__(self, index: int, count: int = 6, interrupt: int | None = None) -> None:
        self.index, self.count, self.interrupt = index, count, interrupt
        self.reads, self.released = 0, False
        FakeCapture.opened.append(self)

    def isOpened(self) -> bool:
        return self.index == 0

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.reads == self.interrupt:
            raise KeyboardInterrupt
        self.reads += 1
        if self.reads > self.count:
            return False, None
        return True, np.ascontiguousarray(square(self.reads - 1)[..., ::-1])

    def get(self, prop: int) -> float:
        return 0.0  # a camera that does not say its rate

    def release(self) -> None:
        self.released = True


@pytest.fixture
def camera(monkeypatch: pytest.MonkeyPatch) -> type[FakeCapture]:
    import cv2

    FakeCapture.opened = []
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    clock = iter(np.arange(0.0, 100.0, 0.25))  # the wall clock: one frame every quarter second
    monkeypatch.setattr("hrnet_lit.video.frames.time.monotonic", lambda: float(next(clock)))
    return FakeCapture


def test_a_camera_clip_keeps_its_timing(tmp_path: Path, camera: type[FakeCapture]) -> None:
    frames = CameraFrames(0, fps=8)
    assert (frames.name, frames.size, frames.fps) == ("camera0", (HEIGHT, WIDTH), 8)
    done = predict_video(FakePredictor(), frames, tmp_path / "out", max_frames=4)
    assert done.frames == 4 and camera.opened[0].released
    rows = lines(done.results)
    assert [r["time"] for r in rows] == [0.0, 0.25, 0.5, 0.75]
    with av.open(str(done.video)) as container:
        decoded = list(container.decode(video=0))
    assert [f.time for f in decoded] == pytest.approx([0.0, 0.25, 0.5, 0.75]), "shown at their times"
    assert [square_left(f.to_ndarray(format="rgb24")) for f in decoded] == pytest.approx(
        [4 + 5 * k for k in range(1, 5)], abs=1
    ), "RGB, in order (the first frame read only checks that the camera gives frames)"
    assert CameraFrames(0).fps == 30, "a camera that does not say its rate: 30"


def test_ctrl_c_ends_a_camera_clip_with_the_frames_so_far(
    tmp_path: Path, camera: type[FakeCapture], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cv2.VideoCapture", lambda index: FakeCapture(index, count=99, interrupt=4))
    done = predict_video(FakePredictor(), CameraFrames(0), tmp_path / "out")
    assert done.frames == 3 and len(lines(done.results)) == 3 and len(read_clip(done.video)[0]) == 3
    with pytest.raises(KeyboardInterrupt):  # a file is every frame or nothing
        predict_video(Interrupted(), write_clip(tmp_path / "clip.mp4"), tmp_path / "out2")
    assert not (tmp_path / "out2" / "clip.mp4").exists() and not list((tmp_path / "out2").iterdir())


class Interrupted:
    def predict(self, images: list[np.ndarray]) -> list[Marked]:
        raise KeyboardInterrupt


def test_cli_predict_on_a_camera(
    tmp_path: Path, camera: type[FakeCapture], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_load(monkeypatch)
    (tmp_path / "last.ckpt").write_bytes(b"")
    out = tmp_path / "out"
    args = [f"--ckpt_path={tmp_path / 'last.ckpt'}", f"--predict_writer.output_dir={out}"]
    main(["predict", *args, "--video.camera=0", "--video.max_frames=3", "--video.fps=4"])
    assert len(lines(out / "camera0.jsonl")) == 3 and len(read_clip(out / "camera0.mp4")[0]) == 3
    with pytest.raises(SystemExit):
        main(["predict", *args, "--video.camera=1"])


def test_cli_help_of_predict_on_a_video(capsys: pytest.CaptureFixture[str]) -> None:
    main(["predict", "--data.predict_dir=clip.mp4", "--help"])
    out = capsys.readouterr().out
    assert all(f"--{key}" in out for key in FLAGS)


def test_which_predict_runs_on_a_video(tmp_path: Path) -> None:
    """A folder of images stays `predict` on images unless a `--video.*` flag asks for a video."""
    folder = write_frames(tmp_path / "images", [0])
    text = text_file(tmp_path, "notes.txt")
    assert not is_video_predict([f"--data.predict_dir={folder}"])
    assert not is_video_predict(["--config", "configs/quickstart.yaml", "--data.predict_dir", str(folder)])
    assert not is_video_predict(["--data.predict_dir=nowhere"])  # predict's own message: folder not found
    assert is_video_predict([f"--data.predict_dir={folder}", "--video.fps=5"])
    assert is_video_predict(["--data.init_args.predict_dir", str(tmp_path / "gone.MOV")])
    assert is_video_predict([f"--data.predict_dir={text}"])  # a file: refused there as no video
    assert is_video_predict(["--video.camera=0"])
