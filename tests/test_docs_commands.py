"""Every command in the ```bash blocks of README.md and docs/*.md, run as written at tiny size.

Each page's `hrnet-lit` lines run in order through `hrnet_lit.cli.main`, in a temporary folder that
links the repository's configs/ (so outputs/ lands there), with the tiny flags of the task their
config names appended. What cannot run here is said per kind below; a line of any other kind fails
the (fast) first test, so that a new doc command cannot go untested.
"""

from __future__ import annotations

import csv
import itertools
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import (
    CLASSIFICATION_FIT,
    DETECTION_FIT,
    INSTANCE_FIT,
    LANDMARKS_FIT,
    POSE_FIT,
    SEGMENTATION_FIT,
    square,
    write_clip,
)
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.segmentation import task as segmentation
from hrnet_lit.tools.fit_config import parse_fit_args

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# `make` targets: what runs each of them.
MAKE_TARGETS = {
    "train": "the quickstart's compute is bounded by tests/test_summary_and_configs.py; its config runs "
    "tiny on the segmentation and CLI pages",
    "test": "the test suite itself",
    "test-fast": "the suite's unit lane",
    "notebooks": "tests/test_jupyter.py starts it and lists the notebooks",
}
# `wandb` lines talk to W&B's server: not run (the sweep files are checked by `hrnet-lit sweep` here).
WANDB_ALLOWED = {
    "login": "stores a W&B account's key",
    "sweep": "creates the sweep on W&B's server",
    "agent": "takes runs from W&B's server",
    "sync": "uploads offline runs to W&B's server",
}
# Launchers of several processes (GPUs, nodes): their `hrnet-lit fit` is parsed only (`parse_fit_args`);
# two CPU processes under torchrun and DDP run in tests/test_distributed.py.
LAUNCHERS = ("torchrun", "srun")

# The official Cityscapes recipe on one CPU process, on the tiny Cityscapes tree `write_cityscapes` makes.
CITYSCAPES_TINY = [
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.strategy=auto",
    "--trainer.max_steps=2",
    "--trainer.log_every_n_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.preset=w18_small_v1",
    "--model.backbone.width=8",
    "--data.crop_size=[32,64]",
    "--data.batch_size=2",
    "--data.num_workers=0",
]
TINY_BY_CONFIG = {
    "configs/pose/": POSE_FIT,
    "configs/classification/": CLASSIFICATION_FIT,
    "configs/detection/": DETECTION_FIT,
    "configs/instance/": INSTANCE_FIT,
    "configs/landmarks/": LANDMARKS_FIT,
    "configs/cityscapes_": CITYSCAPES_TINY,
    "configs/quickstart.yaml": SEGMENTATION_FIT,
}
# `bench` times two networks many times over: one repetition of the smallest preset at 64 x 64.
# torch.compile's first compile takes minutes on CPU, so `--compile=true` becomes false here
# (compiled networks: tests/test_fast_paths.py).
BENCH_TINY = [
    "--preset=w18_small_v1",
    "--input_size=[64,64]",
    "--batch_size=1",
    "--repeats=1",
    "--warmup=0",
    "--threads=1",
    "--compile=false",
]
# `bench --data` writes a fake set and times its pipelines and the network: tiny images, one batch.
DATA_BENCH_TINY = ["--source_size=[48,64]", "--files=1", "--rounds=1", "--batches=1", "--net_steps=0"]
# `summary` runs one forward pass to count MACs: at 64 x 64 (parameter counts do not change).
SUMMARY_TINY = ["--input_size=[64,64]"]
# `sweep` starts a training process per run: here it prints them (`--dry_run`), which also parses every
# run with the real CLI; sweeps that run: tests/test_sweep.py.
SWEEP_TINY = ["--dry_run=true"]


@dataclass(frozen=True)
class DocCommand:
    """One command of a page's ```bash blocks: its environment prefix, program and arguments."""

    page: str
    line: str
    env: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)

    @property
    def program(self) -> str:
        return self.argv[0]


def bash_lines(text: str) -> list[str]:
    """The lines of every ```bash block, continuation lines (`\\`) joined, indentation dropped."""
    lines: list[str] = []
    for block in re.findall(r"^\s*```bash\n(.*?)^\s*```", text, re.M | re.S):
        lines.extend(line.strip() for line in block.replace("\\\n", " ").splitlines())
    return lines


def doc_commands(page: Path) -> list[DocCommand]:
    commands = []
    for line in bash_lines(page.read_text()):
        tokens = shlex.split(line, comments=True)  # comment lines, `#!/bin/bash`, `#SBATCH` vanish
        env = {}
        while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", tokens[0]):
            name, value = tokens.pop(0).split("=", 1)
            env[name] = value
        if tokens:
            commands.append(DocCommand(page.name, line, env, tokens))
    return commands


def launched_fit(command: DocCommand) -> list[str]:
    """The arguments of the `hrnet-lit fit` that a launcher line starts."""
    (start,) = [i for i, token in enumerate(command.argv) if token.endswith("bin/hrnet-lit")]
    argv = command.argv[start + 1 :]
    assert argv[0] == "fit", command.line
    return argv[1:]


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


def test_every_doc_command_is_one_this_file_runs() -> None:
    commands = [c for page in PAGES for c in doc_commands(page)]
    assert {c.page for c in commands} >= {"README.md", "cli.md", "pose.md", "detection.md"}
    for command in commands:
        if command.program == "make":
            (target,) = command.argv[1:]
            assert target in MAKE_TARGETS, f"{command.page}: no test covers `{command.line}`"
            assert target in makefile_targets(), f"{command.page}: the Makefile has no `{target}`"
        elif command.program == "wandb":
            assert command.argv[1] in WANDB_ALLOWED, f"{command.page}: unknown W&B line `{command.line}`"
        elif command.program in LAUNCHERS:
            assert launched_fit(command), command.line
        else:
            assert command.program == "hrnet-lit", f"{command.page}: no test runs `{command.line}`"
            assert set(command.env) <= {"WANDB_MODE", "OMP_NUM_THREADS"}, (
                f"{command.page}: unknown environment in {command.line}"
            )


def config_of(argv: list[str]) -> str:
    configs = [b for a, b in itertools.pairwise(argv) if a == "--config"]
    configs += [a.removeprefix("--config=") for a in argv if a.startswith("--config=")]
    return configs[0] if configs else ""


def tiny_flags(argv: list[str]) -> list[str]:
    """What makes `hrnet-lit <argv>` tiny: per tool, or per task of the (first) config it names."""
    tool = {"bench": BENCH_TINY, "summary": SUMMARY_TINY, "sweep": SWEEP_TINY}
    if argv[:2] == ["bench", "--data"]:
        return DATA_BENCH_TINY
    if argv[0] in tool:
        return tool[argv[0]]
    config = config_of(argv)
    if argv[0] == "export" and not config:
        return []  # a checkpoint's or the flags' network, exported by a stand-in (below)
    if argv[0] == "predict" and not config:
        return []  # predict on a video: the tiny fit's checkpoint and the tiny clip below
    (tiny,) = [flags for prefix, flags in TINY_BY_CONFIG.items() if config.startswith(prefix)]
    return tiny


def eval_flags(argv: list[str]) -> tuple[list[float], bool] | None:
    """The evaluation scales and flip a segmentation command sets, if it sets them."""
    flags = dict(a.removeprefix("--").split("=", 1) for a in argv if "=" in a)
    if "model.eval_scales" not in flags:
        return None
    scales = [float(s) for s in flags["model.eval_scales"].strip("[]").split(",")]
    return scales, flags.get("model.eval_flip", "false") == "true"


def save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def write_image(path: Path, size: tuple[int, int] = (80, 64)) -> None:
    save(path, np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def write_cityscapes(root: Path) -> None:
    """Cityscapes' own layout and file names: two training images, one validation image."""
    labels = np.random.default_rng(1).integers(0, 34, (64, 128), dtype=np.uint8)
    for split, city, count in (("train", "ulm", 2), ("val", "bonn", 1)):
        for k in range(count):
            name = f"{city}_{k:06d}_000019"
            write_image(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", (128, 64))
            save(root / "gtFine" / split / city / f"{name}_gtFine_labelIds.png", labels)


def checkpoint(run: str, version: int = 0) -> Path:
    return Path("outputs", run, f"version_{version}", "checkpoints", "last.ckpt")


def check_segmentation(out: str, exported: list[str]) -> None:
    assert checkpoint("quickstart").is_file()
    assert "65888219" in out and "65860100" in out, "summaries of the PASCAL-Context and LIP recipes"
    assert Path("masks", "x.png").is_file() and Path("masks", "x_overlay.jpg").is_file()


def check_cli(out: str, exported: list[str]) -> None:
    assert checkpoint("quickstart", 3).is_file(), "fit, resume, the attention variant, last_checkpoint"
    assert checkpoint("cityscapes_w48").is_file(), "the Cityscapes recipe on the tiny Cityscapes tree"
    assert "65,859,379" in out or "65859379" in out, "summary of HRNetV2-W48, 19 classes"
    tasks = ["segmentation", "classification", "pose", "landmarks", "detection", "instance"]
    assert exported == ["quickstart.onnx", "hrfpn_w48.onnx", *(f"{t}.onnx" for t in tasks)]


def check_pose(out: str, exported: list[str]) -> None:
    assert checkpoint("pose_quickstart").is_file()
    assert "28,536,113" in out or "28536113" in out, "summary of the official W32 256x192 recipe"
    assert "28,536,080" in out or "28536080" in out, "summary of the official MPII W32 recipe"
    assert Path("poses", "keypoints.json").is_file()
    assert checkpoint("detection_figures").is_file(), "the figures detector that pose takes"
    assert Path("poses_detected", "keypoints.json").is_file(), "pose predict with the detector's boxes"


def check_classification(out: str, exported: list[str]) -> None:
    from hrnet_lit.classification.data import SyntheticClassesDataModule

    assert "41,232,680" in out or "41232680" in out, "summary of the ImageNet W32 recipe, without ImageNet"
    with open("classes/predictions.csv") as file:
        (row,) = list(csv.DictReader(file))
    assert row["image"].endswith("x.png") and row["class_1"] in SyntheticClassesDataModule().class_names
    assert checkpoint("quickstart").is_file(), "segmentation from the classifier's backbone"


def check_detection(out: str, exported: list[str]) -> None:
    assert checkpoint("detection_quickstart").is_file()
    assert Path("detections", "x.png").is_file()
    assert Path("detections", "detections.json").read_text().startswith("[")
    assert exported == ["detector.onnx"]


def check_instance(out: str, exported: list[str]) -> None:
    assert checkpoint("instance_quickstart").is_file()
    assert Path("instances", "x.png").is_file()
    assert Path("instances", "segmentations.json").read_text().startswith("[")
    assert exported == ["instance.onnx"]


def check_landmarks(out: str, exported: list[str]) -> None:
    assert checkpoint("landmarks_quickstart").is_file()
    assert Path("outputs", "landmarks_quickstart", "test", "version_0").is_dir(), "the test run's own folder"
    assert "9,662,528" in out or "9662528" in out, "summary of the official WFLW W18 recipe"
    assert Path("faces", "x.png").is_file()
    assert Path("faces", "landmarks.json").read_text().startswith('[{"file_name": "x.png"')


def check_video(out: str, exported: list[str]) -> None:
    import av

    for clip, frames in (("my_clip", 8), ("my_frames", 3)):
        with av.open(f"video/{clip}.mp4") as container:
            assert sum(1 for _ in container.decode(video=0)) == frames
        assert len(Path("video", f"{clip}.jsonl").read_text().splitlines()) == frames


def check_sweeps(out: str, exported: list[str]) -> None:
    assert "--trainer.max_steps=2" in out, "the smoke test's runs, printed with their extra flags"
    assert list(Path("outputs").glob("wandb/offline-run-*")), "the W&B logger, offline"


# What each page's commands must leave behind, beyond running without an error.
CHECKS: dict[str, Callable[[str, list[str]], None]] = {
    "segmentation.md": check_segmentation,
    "cli.md": check_cli,
    "pose.md": check_pose,
    "classification.md": check_classification,
    "detection.md": check_detection,
    "instance.md": check_instance,
    "landmarks.md": check_landmarks,
    "sweeps.md": check_sweeps,
    "video.md": check_video,
}


def run_page(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[str, list[str]]:
    """Run every command of `page` in `tmp_path`; (their stdout, the ONNX files asked of `export`)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    write_image(tmp_path / "my_images" / "x.png")
    write_clip(tmp_path / "my_clip.mp4")
    (tmp_path / "my_frames").mkdir()
    for k in range(3):
        Image.fromarray(square(k)).save(tmp_path / "my_frames" / f"{k}.png")
    write_cityscapes(tmp_path / "data" / "cityscapes")
    exported: list[str] = []  # ONNX's exporter itself: tests/test_export.py
    monkeypatch.setattr(
        "hrnet_lit.tools.export.export_onnx", lambda net, output, *_: exported.append(str(output))
    )
    used: list[tuple[list[float], bool]] = []
    real = segmentation.predict_probs

    def spy(
        model: object, image: torch.Tensor, scales: list[float], flip: bool, *rest: object
    ) -> torch.Tensor:
        used.append((list(scales), flip))
        return real(model, image, scales, flip, *rest)

    monkeypatch.setattr(segmentation, "predict_probs", spy)
    threads = torch.get_num_threads()
    out = []
    for command in doc_commands(page):
        if command.program in ("make", "wandb"):
            continue  # covered or allowed: see the first test
        if command.program in LAUNCHERS:
            parse_fit_args(launched_fit(command))
            continue
        for name, value in command.env.items():
            monkeypatch.setenv(name, value)
        argv = command.argv[1:]
        used.clear()
        try:
            main([*argv, *tiny_flags(argv)])
        except SystemExit as stop:  # `--print_config` prints and exits
            assert stop.code in (0, None), f"{command.line} exited with {stop.code}"
        finally:
            torch.set_num_threads(threads)  # `bench --threads` sets it
            if "wandb" in sys.modules:
                # Each W&B command its own run and service: W&B keeps its service's address in
                # WANDB_SERVICE, which later tests' processes would otherwise inherit and share.
                sys.modules["wandb"].finish()
                sys.modules["wandb"].teardown()
        out.append(capsys.readouterr().out)
        for name in command.env:
            monkeypatch.delenv(name)
        wanted = eval_flags(argv)
        if wanted is not None:
            assert used and {str(u) for u in used} == {str(wanted)}, f"{command.line}: evaluated with {used}"
    return "\n".join(out), exported


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if p.name in CHECKS], ids=lambda p: p.name)
def test_doc_commands_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, exported = run_page(page, tmp_path, monkeypatch, capsys)
    CHECKS[page.name](out, exported)


def test_every_page_with_commands_has_its_checks() -> None:
    """A page with `hrnet-lit` commands is run by the test above (the README's are `make` lines only)."""
    with_commands = {p.name for p in PAGES if any(c.program != "make" for c in doc_commands(p))}
    assert with_commands == set(CHECKS)
