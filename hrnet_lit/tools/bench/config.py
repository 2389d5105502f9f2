"""What `hrnet-lit bench` measures: one record of its flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jsonargparse.typing import NonNegativeInt, PositiveInt

from hrnet_lit.models.presets import PresetName
from hrnet_lit.tools.network_args import TaskName

Precision = Literal["fp32", "bf16", "fp16"]
Clock = Literal["wall", "cpu"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class BenchConfig:
    """What to measure; the fast paths apply to both sides unless marked otherwise.

    Args:
        task: the task whose network is measured (`build_network` of it, as `fit` trains it).
        preset: HRNet variant (timm has each one).
        head: representation head, one that the task accepts.
        num_classes: size of the output space (classes; a pose task's joints).
        batch_size: images per step.
        input_size: H, W of the images.
        device: `cpu`, `cuda`, `cuda:1`, ...; `auto` picks CUDA when there is one.
        precision: autocast dtype (bf16 / fp16) or plain fp32.
        channels_last: NHWC memory format for weights, inputs and activations.
        compile: `torch.compile` both networks.
        fuse_bn: fold BatchNorm into the convs for inference (`fuse_for_inference`).
        grad_checkpointing: recompute our modules in backward (timm's HRNet cannot).
        repeats: timed repetitions per side; medians are reported.
        warmup: untimed repetitions first (at least one when compiling).
        threads: CPU threads per process (torch's default when unset).
        clock: `wall` time, or this process's `cpu` time: with `threads=1` on a CPU that other jobs
            share, it leaves out the time spent waiting for a core (not their cache and memory
            traffic).
        peak_tflops: the chip's peak TFLOP/s at `precision` (an H200: 989 dense bf16), to state
            the share of it that our network reaches.
    """

    task: TaskName = "segmentation"
    preset: PresetName = "w18"
    head: str = "v2"
    num_classes: PositiveInt = 19
    batch_size: PositiveInt = 2
    input_size: tuple[int, int] = (512, 512)
    device: str = "auto"
    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    fuse_bn: bool = False
    grad_checkpointing: bool = False
    repeats: PositiveInt = 5
    warmup: NonNegativeInt = 1
    threads: PositiveInt | None = None
    clock: Clock = "wall"
    peak_tflops: float | None = None

    @property
    def fast(self) -> bool:
        """Whether any fast path is on, so that timm in plain eager fp32 needs measuring too."""
        return self.precision != "fp32" or self.channels_last or self.compile or self.fuse_bn

    def __post_init__(self) -> None:
        if self.clock == "cpu" and self.torch_device().type != "cpu":
            raise ValueError("clock='cpu' times host work only; use clock='wall' on an accelerator")

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)
