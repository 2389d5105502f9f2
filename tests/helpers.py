"""What the test files share: each task's tiny network and tiny `hrnet-lit fit` flags, one reader of a
run's metrics.csv, and `fit`, which returns a run's final metrics as a dict (as lightning-hydra-template's
`train()` does), so that a test asserts on numbers instead of parsing a CSV of its own."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hrnet_lit.cli import main
from hrnet_lit.models.config import BackboneConfig

# The W18-small-v1 layout at width 8 (detection: width 4 with thin stems): a tiny run takes seconds on 2
# cores. Pose and classification upsample as their configs do.
TINY_SEGMENTATION = BackboneConfig(preset="w18_small_v1", width=8)
TINY_POSE = BackboneConfig(preset="w18_small_v1", width=8, upsample_mode="nearest")
TINY_CLASSIFICATION = BackboneConfig(preset="w18_small_v1", width=8, upsample_mode="nearest")
TINY_LANDMARKS = BackboneConfig(preset="w18_small_v1", width=8)
TINY_DETECTION = BackboneConfig(preset="w18_small_v1", width=4, stem_width=16, stage1_width=8)

# Segmentation needs no --config (it is the CLI's default task): 64 x 64 synthetic images.
SEGMENTATION_FIT = [
    "--seed_everything=0",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.max_steps=2",
    "--trainer.log_every_n_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.preset=w18_small_v1",
    "--model.backbone.width=8",
    "--data.class_path=hrnet_lit.segmentation.data.SyntheticDataModule",
    "--data.num_train=8",
    "--data.num_val=4",
    "--data.image_size=[64,64]",
    "--data.crop_size=[64,64]",
    "--data.batch_size=4",
    "--data.num_workers=0",
]

# With configs/pose/quickstart.yaml: 64 x 48 crops of 64 x 64 synthetic figures.
POSE_FIT = [
    "--trainer.max_steps=2",
    "--trainer.log_every_n_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.width=8",
    "--data.num_train=8",
    "--data.num_val=4",
    "--data.image_size=[64,64]",
    "--data.input_size=[64,48]",
    "--data.batch_size=4",
]

# With configs/classification/quickstart.yaml: 32 x 32 synthetic classes, one epoch of 3 steps.
CLASSIFICATION_FIT = [
    "--model.backbone.width=8",
    "--trainer.max_steps=3",
    "--trainer.max_epochs=1",
    "--trainer.log_every_n_steps=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--data.num_train=12",
    "--data.num_val=6",
    "--data.image_size=32",
    "--data.generated_size=32",
    "--data.batch_size=4",
]

# With configs/landmarks/quickstart.yaml: 32 x 32 crops of 48 x 48 synthetic faces.
LANDMARKS_FIT = [
    "--trainer.max_steps=2",
    "--trainer.log_every_n_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.width=8",
    "--data.num_train=8",
    "--data.num_val=4",
    "--data.image_size=[48,48]",
    "--data.input_size=[32,32]",
    "--data.batch_size=4",
]

# With configs/detection/quickstart.yaml: one block per stage, a thin FPN and box head, 64 x 64 images.
DETECTION_FIT = [
    "--trainer.max_epochs=1",
    "--trainer.max_steps=2",
    "--trainer.log_every_n_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.width=4",
    "--model.backbone.num_blocks=[1,1,1,1]",
    "--model.detector.min_size=64",
    "--model.detector.max_size=64",
    "--model.detector.fpn_channels=16",
    "--model.detector.box_head_width=32",
    "--data.num_train=8",
    "--data.num_val=4",
    "--data.image_size=[64,64]",
    "--data.batch_size=4",
]

# With configs/instance/quickstart.yaml: the detection flags and a thin mask head of two convs.
INSTANCE_FIT = [*DETECTION_FIT, "--model.detector.mask_head_width=8", "--model.detector.mask_head_convs=2"]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as file:
        return list(csv.DictReader(file))


def metric_rows(folder: Path) -> list[dict[str, str]]:
    """The rows of the one metrics.csv in or under `folder` (a run folder or a logger's save_dir); a
    second one, or none, fails the test."""
    (path,) = folder.rglob("metrics.csv")
    return csv_rows(path)


def logged(rows: list[dict[str, str]], column: str) -> list[float]:
    """The values logged under `column`, in order (CSVLogger leaves the column empty in other rows)."""
    return [float(row[column]) for row in rows if row.get(column)]


def last_logged(folder: Path, column: str) -> float:
    """The last value of `column` in the one metrics.csv under `folder`."""
    return logged(metric_rows(folder), column)[-1]


def fit(args: list[str], tmp_path: Path) -> dict[str, float]:
    """`hrnet-lit fit *args`, logging under tmp_path: the last value logged for every metric."""
    main(["fit", *args, f"--trainer.logger.init_args.save_dir={tmp_path}"])
    return {column: float(value) for row in metric_rows(tmp_path) for column, value in row.items() if value}


def square(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """A video frame: a grey background with a white square that moves 5 pixels right per frame."""
    image = np.full((height, width, 3), 60, dtype=np.uint8)
    image[16:32, 4 + 5 * index : 20 + 5 * index] = 255
    return image


def write_clip(path: Path, frames: int = 8, fps: int = 12) -> Path:
    """A tiny H.264 clip of `square` frames (48 x 64), written by PyAV directly, not by the code that
    the tests check."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width, stream.pix_fmt = 48, 64, "yuv420p"
        for k in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(square(k), format="rgb24")))
        container.mux(stream.encode(None))
    return path
