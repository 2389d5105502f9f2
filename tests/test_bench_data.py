"""`bench --data`: the fake sets are read by the real data modules, the command reports the numbers it
promises (and its flags do what they say), and `benchmarks/gpu.py` runs its tiny CPU mode."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from hrnet_lit import cli
from hrnet_lit.classification.data import ImageNetDataModule
from hrnet_lit.detection.data import CocoDataModule
from hrnet_lit.errors import InputError
from hrnet_lit.instance.data import CocoInstanceDataModule
from hrnet_lit.landmarks.data import LandmarkCSVDataModule
from hrnet_lit.pose.data import COCOKeypointsDataModule
from hrnet_lit.segmentation.data import CityscapesDataModule
from hrnet_lit.tools.bench import fake_sets
from hrnet_lit.tools.bench.data_command import workers
from hrnet_lit.tools.bench.data_rate import pipeline_rate, sample_reader

ROOT = Path(__file__).resolve().parent.parent


def _image(sample: Any) -> torch.Tensor:
    image = sample["image"] if isinstance(sample, dict) else sample[0]
    return torch.as_tensor(image).float()


def _read_both(data: Any) -> tuple[Any, Any]:
    """A train and a val sample, each from a dataset of at least one sample; the images are scenes,
    not flat colour."""
    samples = []
    for split in ("train", "val"):
        dataset = data.dataset(split)
        assert len(dataset) >= 1, split
        samples.append(dataset[0])
        assert _image(samples[-1]).std() > 0.05, f"{split}: a flat image"
    return samples[0], samples[1]


def test_cityscapes_fake_set_reads(tmp_path: Path) -> None:
    fake_sets.make_cityscapes(tmp_path, files=1, size=(64, 128))
    data = CityscapesDataModule(str(tmp_path), crop_size=(32, 64), num_workers=0)
    (image, _), (val_image, val_mask) = _read_both(data)
    assert image.shape == (3, 32, 64) and val_image.shape == (3, 64, 128)
    labels = set(torch.unique(torch.as_tensor(val_mask)).tolist())
    assert 255 in labels and len(labels - {255}) >= 3, labels  # void and several evaluated classes


def test_coco_keypoints_fake_set_reads(tmp_path: Path) -> None:
    fake_sets.make_coco_keypoints(tmp_path, files=1, size=(48, 64), persons=2)
    data = COCOKeypointsDataModule(str(tmp_path), input_size=(32, 24), num_workers=0)
    train, _ = _read_both(data)
    assert len(data.dataset("train")) == 2 and train["image"].shape == (3, 32, 24)
    assert data.spec.num_joints == 17 and float(train["target_weight"].sum()) > 0


def test_imagenet_fake_set_reads(tmp_path: Path) -> None:
    fake_sets.make_imagenet(tmp_path, files=2, size=(40, 48))
    data = ImageNetDataModule(str(tmp_path), image_size=32, num_workers=0)
    (image, label), (val_image, _) = _read_both(data)
    assert len(data.dataset("train")) == 1000 and len(data.dataset("val")) == 2
    assert image.shape == val_image.shape == (3, 32, 32) and 0 <= label < 1000


@pytest.mark.parametrize("module", [CocoDataModule, CocoInstanceDataModule])
def test_coco_detection_fake_set_reads(tmp_path: Path, module: type) -> None:
    fake_sets.make_coco_detection(tmp_path, files=1, size=(48, 64), objects=3)
    data = module(str(tmp_path), num_workers=0)
    (image, target), _ = _read_both(data)
    assert image.shape == (3, 48, 64) and len(target["boxes"]) == 3 and len(data.class_names) == 80
    if module is CocoInstanceDataModule:
        assert target["masks"].shape == (3, 48, 64) and target["masks"].sum() > 0


@pytest.mark.parametrize("benchmark", ["300w", "wflw", "aflw"])
def test_landmark_csv_fake_set_reads(tmp_path: Path, benchmark: str) -> None:
    fake_sets.make_landmark_csv(tmp_path, benchmark, files=1, size=(48, 64))
    data = LandmarkCSVDataModule(str(tmp_path), benchmark=benchmark, input_size=(32, 32), num_workers=0)
    train, _ = _read_both(data)
    assert train["image"].shape == (3, 32, 32) and train["target"].shape[0] == data.spec.num_landmarks


def test_scene_files_compress_like_photographs(tmp_path: Path) -> None:
    """A 640x480 JPEG of a scene weighs what COCO's photographs do (~160 KB), not what flat colour or
    white noise would; the pixels are 8-bit RGB of the asked size."""
    fake_sets.make_coco_detection(tmp_path, files=1, objects=4)
    path = next((tmp_path / "train2017").iterdir())
    assert 80_000 < path.stat().st_size < 250_000
    image, labels, shapes = fake_sets.scene(np.random.default_rng(0), (30, 40), (1, 2), (3, 4))
    assert image.shape == (30, 40, 3) and image.dtype == np.uint8 and labels.shape == (30, 40)
    assert [s.label for s in shapes] == [3, 4] and all(s.box[2] > 0 for s in shapes)


def _bench_data(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, Any]:
    threads = torch.get_num_threads()
    try:
        cli.main(["bench", "--data", *flags, "--json=true"])
    finally:
        torch.set_num_threads(threads)
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
def test_bench_data_reports_rates_network_and_workers(capsys: pytest.CaptureFixture[str]) -> None:
    row = _bench_data(
        capsys,
        "--config",
        str(ROOT / "configs/quickstart.yaml"),
        "--data.num_train=16",
        "--data.batch_size=4",
        "--rounds=2",
        "--batches=2",
        "--net_batch_size=2",
        "--net_steps=1",
        "--threads=1",
        "--device_images_per_s=1000",
    )
    for split in ("train", "val"):
        rate = row[split]
        assert rate["batch_size"] == 4 and rate["samples_per_round"] == 8 and len(rate["rounds"]) == 2, split
        low, high = rate["range"]
        assert 0 < low <= rate["samples_per_s"] <= high, split
    train = row["train"]["samples_per_s"]
    assert row["net_images_per_s"] > 0 and row["net_input_size"] == [128, 128]
    assert row["net_threads"] == 1 and row["net_clock"] == "cpu"
    assert row["net_batch_size"] == 2 and row["net_images_per_s"] == pytest.approx(
        2 * row["net_steps_per_s"], rel=1e-3
    )
    assert row["workers_needed_here"] == math.ceil(row["net_images_per_s"] / train)
    assert row["workers_needed_device"] == math.ceil(1000 / train)
    assert row["config_workers_keep_up"] is False  # the quickstart loads in the training process
    assert row["data"] == "the config's built-in synthetic set"


@pytest.mark.slow
def test_bench_data_makes_the_fake_set_of_a_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    row = _bench_data(
        capsys,
        "--config",
        str(ROOT / "configs/pose/coco_w32_256x192.yaml"),
        "--data.input_size=[64,48]",
        "--source_size=[48,64]",
        "--files=1",
        "--splits=[val]",
        "--rounds=1",
        "--batches=1",
        "--net_steps=0",
    )
    assert row["data"] == "a fake COCO keypoints JPEG set (1 files per split, 48x64)"
    assert row["val"]["batch_size"] == 32 and row["val"]["samples_per_s"] > 0
    assert "train" not in row and "net_images_per_s" not in row and "workers_needed_device" not in row


@pytest.mark.slow
def test_bench_data_reads_a_given_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_sets.make_landmark_csv(tmp_path, "300w", files=1, size=(48, 64))
    row = _bench_data(
        capsys,
        "--config",
        str(ROOT / "configs/landmarks/300w_w18.yaml"),
        f"--data.root={tmp_path}",
        "--data.input_size=[32,32]",
        "--splits=[train]",
        "--rounds=1",
        "--batches=1",
        "--net_steps=0",
    )
    assert row["data"] == str(tmp_path) and row["train"]["batch_size"] == 16


class _Draws(Dataset):
    """Each sample one draw of torch's global RNG: what a transform's augmentation draws."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> float:
        return float(torch.rand(()))


def test_train_samples_are_keyed_by_seed_and_position() -> None:
    """Train samples draw their augmentation from (seed, position): the same for the same seed, new at
    every position (also where the index wraps around), other for another seed; val reads by index."""
    read = sample_reader(_Draws(), train=True, seed=0)
    draws = [read(k) for k in range(4)]
    assert draws == [sample_reader(_Draws(), True, 0)(k) for k in range(4)] and len(set(draws)) == 4
    assert draws != [sample_reader(_Draws(), True, 1)(k) for k in range(4)]
    rate = pipeline_rate(_Draws(), list, batch_size=2, split="val", rounds=3, batches=2)
    assert len(rate.rounds) == 3 and rate.record()["samples_per_round"] == 4 and rate.median > 0


def test_bench_data_refusals() -> None:
    with pytest.raises(InputError, match="no fake set in the format of ADE20KDataModule"):
        cli_args = ["--config", str(ROOT / "configs/ade20k_w48.yaml"), "--net_steps=0"]
        from hrnet_lit.tools.bench.data_command import main_data

        main_data(cli_args)
    with pytest.raises(InputError, match="--splits"):
        from hrnet_lit.tools.bench.data_command import DataBenchConfig

        DataBenchConfig(splits=("test",))
    assert workers({"train": {"samples_per_s": 10.0}, "config_num_workers": 4}, 45.0) == {
        "workers_needed_device": 5,
        "config_workers_keep_up": False,
    }


def _gpu_script() -> Any:
    spec = importlib.util.spec_from_file_location("gpu_benchmark", ROOT / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_gpu_script_tiny_cpu_mode_writes_its_json(tmp_path: Path) -> None:
    """The GPU benchmark's whole path at tiny size on the CPU: a dense task and a detector with masks,
    eager and bf16 + channels_last (the compiled variants are listed as skipped on a CPU)."""
    out = tmp_path / "gpu.json"
    threads = torch.get_num_threads()
    try:
        flags = ["--recipes", "pose", "instance", "--loader_samples", "2", "--peak_tflops", "2", "1"]
        _gpu_script().main(["--device", "cpu", "--tiny", *flags, "--json", str(out)])
    finally:
        torch.set_num_threads(threads)
    result = json.loads(out.read_text())
    measured = [r for r in result["rows"] if "images_per_s" in r]
    assert [(r["recipe"][:4], r["variant"]) for r in measured] == [
        (name, variant) for name in ("pose", "inst") for variant in ("fp32", "bf16 + channels_last")
    ]
    for row in measured:
        peak = 2 if row["dtype"] == "bfloat16" else 1
        assert row["mfu"] == pytest.approx(row["tflops"] / peak) and row["tflops"] > 0
        rate = result["loader_samples_per_s_per_core"][row["recipe"]]
        assert row["loader_workers"] == math.ceil(row["images_per_s"] / rate)
    skipped = [r for r in result["rows"] if "compile" in r["variant"]]
    assert len(skipped) == 4 and all(r["note"].startswith("skipped") for r in skipped)


@pytest.mark.slow
def test_gpu_script_keeps_to_its_budget(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    flags = ["--recipes", "landmarks", "--loader_samples", "0", "--budget_s", "0", "--compile_modes"]
    _gpu_script().main(["--device", "cpu", "--tiny", *flags, "--json", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 2 and all(r["note"] == "skipped: over the time budget" for r in rows)
