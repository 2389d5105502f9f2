"""`hrnet-lit bench`: our HRNet against timm's, computing the same function on the same input.

Both sides get the same representation head and task layer and the same weights: timm's backbone
is copied into ours with `load_pretrained`, and ours fuses with nearest upsampling, which is
timm's function. Speed is timed in this process, rotating the order of the sides every repetition
so that drift (thermal, other load) hits them alike; peak training memory is measured in a fresh
child process per side so that neither side's allocations mask the other's.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import timm
import torch
from jsonargparse import ArgumentParser
from jsonargparse.typing import NonNegativeInt, PositiveInt
from torch import nn

from hrnet_lit.models import build_model, count_macs, load_pretrained
from hrnet_lit.models.fast import fuse_for_inference
from hrnet_lit.models.heads import HeadName
from hrnet_lit.models.presets import PresetName
from hrnet_lit.tools.network_args import split_own_flags, uses_fit_config

Precision = Literal["fp32", "bf16", "fp16"]
Clock = Literal["wall", "cpu"]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
TIMM_NAMES = {"w18_small_v1": "hrnet_w18_small", "w18_small_v2": "hrnet_w18_small_v2"}
_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class BenchConfig:
    """What to measure; the fast paths apply to both sides unless marked otherwise.

    Args:
        preset: HRNet variant (timm has each one).
        head: representation head; v2 and v1 add their official task layer.
        num_classes: classes / heatmaps of the task layer.
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

    preset: PresetName = "w18"
    head: HeadName = "v2"
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


class TimmNetwork(nn.Module):
    """timm's HRNet feature extractor under our head and task layer."""

    def __init__(self, features: nn.Module, head: nn.Module, task_layer: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = head
        self.task_layer = task_layer

    def forward(self, x: torch.Tensor) -> Any:
        return self.task_layer(self.head(self.features(x)))


def build_pair(config: BenchConfig) -> tuple[nn.Module, nn.Module]:
    """(ours, timm's), computing the same function with the same weights, on the CPU in fp32.

    With the v1 head our last module fuses only into the branch the head reads; timm's still
    fuses into all four, so that side does more work.
    """
    name = TIMM_NAMES.get(config.preset, f"hrnet_{config.preset}")
    ours = build_model(
        config.head,
        config.num_classes,
        config.preset,
        upsample_mode="nearest",
        grad_checkpointing=config.grad_checkpointing,
    )
    if config.head == "cls":
        reference = timm.create_model(name, num_classes=config.num_classes)
        load_pretrained(ours, reference.state_dict())
        return ours, reference
    features = timm.create_model(name, features_only=True, feature_location="", out_indices=(1, 2, 3, 4))
    load_pretrained(ours, features.state_dict())
    return ours, TimmNetwork(features, copy.deepcopy(ours.head), copy.deepcopy(ours.task_layer))


def stand_in_loss(output: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """A loss over every output; any loss costs next to nothing beside the network."""
    outputs = output if isinstance(output, list | tuple) else [output]
    return sum(o.float().square().mean() for o in outputs)


class Runner:
    """One side's network with the chosen fast paths: a training step and an inference pass."""

    def __init__(self, model: nn.Module, config: BenchConfig, fast: bool) -> None:
        self.device = config.torch_device()
        self.memory_format = torch.channels_last if fast and config.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        dtype = DTYPES[config.precision] if fast else torch.float32
        self.autocast = {"device_type": self.device.type, "dtype": dtype, "enabled": dtype != torch.float32}
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=dtype == torch.float16)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        inference = fuse_for_inference(model) if fast and config.fuse_bn else model
        compile_ = fast and config.compile
        self.train_forward = torch.compile(model) if compile_ else model
        self.infer_forward = torch.compile(inference) if compile_ else inference
        self.inference = inference

    def input(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, memory_format=self.memory_format)

    def train_step(self, x: torch.Tensor) -> None:
        self.model.train()
        with torch.autocast(**self.autocast):
            loss = stand_in_loss(self.train_forward(x))
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    def infer(self, x: torch.Tensor) -> None:
        self.inference.eval()
        with torch.inference_mode(), torch.autocast(**self.autocast):
            self.infer_forward(x)


def build_runners(config: BenchConfig) -> dict[str, Runner]:
    """`ours` and `timm` with the fast paths, plus `timm_eager` (plain fp32) when any is on."""
    ours, reference = build_pair(config)
    runners = {}
    if config.fast:
        runners["timm_eager"] = Runner(copy.deepcopy(reference), config, fast=False)
    runners["ours"] = Runner(ours, config, fast=True)
    runners["timm"] = Runner(reference, config, fast=True)
    return runners


def _seconds(fn: Callable[[torch.Tensor], None], x: torch.Tensor, clock: Clock) -> float:
    now = time.perf_counter if clock == "wall" else time.process_time
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    start = now()
    fn(x)
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    return now() - start


def measure_speed(config: BenchConfig, runners: dict[str, Runner]) -> dict[str, list[float]]:
    """Seconds per repetition of each runner's training step and inference, the sides interleaved."""
    torch.manual_seed(0)
    image = torch.randn(config.batch_size, 3, *config.input_size)
    inputs = {name: runner.input(image) for name, runner in runners.items()}
    times: dict[str, list[float]] = {f"{name}_{kind}": [] for name in runners for kind in ("train", "infer")}
    warmup = max(config.warmup, 1) if config.compile else config.warmup
    names = list(runners)
    for r in range(warmup + config.repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for kind in ("train", "infer"):
            for name in order:
                runner = runners[name]
                step = runner.train_step if kind == "train" else runner.infer
                seconds = _seconds(step, inputs[name], config.clock)
                if r >= warmup:
                    times[f"{name}_{kind}"].append(seconds)
    return times


def paired_speedups(ours: list[float], theirs: list[float]) -> list[float]:
    """Per-repetition speedups (their time / ours): the two ran back to back, so drift cancels
    in each pair and the spread of these says how far a ratio can be trusted."""
    return sorted(t / o for o, t in zip(ours, theirs, strict=True))


def _status_kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", _PROC_STATUS.read_text(), re.MULTILINE).group(1))


def _step_memory(config: BenchConfig, side: str) -> int | None:
    """Peak bytes a training step adds to what is resident before it (grads and activations),
    after one untimed step (compilation, optimizer state). Runs inside a fresh child process."""
    torch.manual_seed(0)
    ours, reference = build_pair(config)
    runner = Runner(ours if side == "ours" else reference, config, fast=True)
    del ours, reference
    x = runner.input(torch.randn(config.batch_size, 3, *config.input_size))
    runner.train_step(x)
    gc.collect()
    if runner.device.type == "cuda":
        torch.cuda.synchronize(runner.device)
        torch.cuda.reset_peak_memory_stats(runner.device)
        before = torch.cuda.memory_allocated(runner.device)
        runner.train_step(x)
        return torch.cuda.max_memory_allocated(runner.device) - before
    if not _PROC_CLEAR_REFS.exists():
        return None  # resident-set peaks are read from Linux's /proc
    before = _status_kib("VmRSS")
    _PROC_CLEAR_REFS.write_text("5")  # resets VmHWM, the resident-set peak, to the current size
    runner.train_step(x)
    return (_status_kib("VmHWM") - before) * 1024


def measure_memory(config: BenchConfig) -> dict[str, int | None]:
    """Peak training-step memory of each side, in bytes, each from a fresh Python process.

    There glibc hands every freed block over 64 KiB back to the system, so that the resident set
    follows the live tensors instead of the allocator's high-water mark. The two processes run at
    once: each measures only itself.
    """
    code = "import sys; from hrnet_lit.tools.bench import _memory_child; _memory_child(sys.argv[1])"
    config = replace(config, threads=torch.get_num_threads())
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    children = {}
    for side in ("ours", "timm"):
        request = json.dumps({"config": asdict(config), "side": side})
        children[side] = subprocess.Popen(
            [sys.executable, "-c", code, request],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    peaks = {}
    for side, child in children.items():
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"measuring the memory of {side} failed:\n{err[-4000:]}")
        peaks[side] = json.loads(out.splitlines()[-1])
    return peaks


def _memory_child(request: str) -> None:
    """Entry point of `measure_memory`'s process: prints the peak in bytes (or null) as JSON."""
    fields = json.loads(request)
    config = BenchConfig(**{**fields["config"], "input_size": tuple(fields["config"]["input_size"])})
    torch.set_num_threads(config.threads)
    print(json.dumps(_step_memory(config, fields["side"])))


def achieved_tflops(config: BenchConfig, row: dict[str, Any]) -> dict[str, float]:
    """Our network's TFLOP/s (2 FLOPs per conv / linear MAC; a training step as three forwards),
    and their share of `peak_tflops` when given."""
    with torch.device("meta"):
        model = build_model(config.head, config.num_classes, config.preset)
    flops = 2 * count_macs(model, config.input_size)
    tflops = {
        "train": 3 * flops * row["ours_train_images_per_s"] / 1e12,
        "infer": flops * row["ours_infer_images_per_s"] / 1e12,
    }
    out = {f"ours_{kind}_tflops": _significant(value) for kind, value in tflops.items()}
    if config.peak_tflops:
        out.update(
            {f"ours_{kind}_peak_share": _significant(v / config.peak_tflops) for kind, v in tflops.items()}
        )
    return out


def _significant(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def bench(config: BenchConfig) -> dict[str, Any]:
    """Speed and memory of both sides and their ratios (ours / timm), as one flat record."""
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    row: dict[str, Any] = {**asdict(config), "device": str(config.torch_device())}
    row["threads"] = torch.get_num_threads()
    row["input_size"] = list(config.input_size)
    times = measure_speed(config, build_runners(config))
    row.update({f"{key}_images_per_s": config.batch_size / statistics.median(t) for key, t in times.items()})
    for side, peak in measure_memory(config).items():
        row[f"{side}_peak_train_mib"] = None if peak is None else round(peak / 2**20, 1)
    baseline = "timm_eager" if config.fast else "timm"
    for kind in ("train", "infer"):
        ours = row[f"ours_{kind}_images_per_s"]
        row[f"{kind}_speedup"] = round(ours / row[f"timm_{kind}_images_per_s"], 3)
        row[f"{kind}_speedup_vs_eager"] = round(ours / row[f"{baseline}_{kind}_images_per_s"], 3)
        pairs = paired_speedups(times[f"ours_{kind}"], times[f"timm_{kind}"])
        row[f"{kind}_speedup_range"] = [round(pairs[0], 3), round(pairs[-1], 3)]
    row.update(achieved_tflops(config, row))
    peaks = row["ours_peak_train_mib"], row["timm_peak_train_mib"]
    row["memory_ratio"] = round(peaks[0] / peaks[1], 3) if None not in peaks else None
    return row


def format_table(row: dict[str, Any]) -> str:
    """The medians side by side, then the speedups over timm in plain eager fp32."""
    paths = [p for p in ("channels_last", "compile", "fuse_bn", "grad_checkpointing") if row[p]]
    size = "x".join(map(str, [row["batch_size"], 3, *row["input_size"]]))
    lines = [
        f"{row['preset']} / {row['head']}, {size}, {row['device']} ({row['threads']} threads, "
        f"{row['clock']} clock), "
        f"{row['precision']}{', ' + ', '.join(paths) if paths else ''}; "
        f"median of {row['repeats']}",
        f"{'':<18}{'ours':>10}{'timm':>10}{'ours/timm':>11}",
    ]
    for label, key, ratio in (
        ("train images/s", "train_images_per_s", "train_speedup"),
        ("infer images/s", "infer_images_per_s", "infer_speedup"),
        ("train peak MiB", "peak_train_mib", "memory_ratio"),
    ):
        cells = [row[f"ours_{key}"], row[f"timm_{key}"], row[ratio]]
        text = ["-" if c is None else f"{c:.4g}" for c in cells]
        lines.append(f"{label:<18}{text[0]:>10}{text[1]:>10}{text[2]:>11}")
    train, infer = row["train_speedup_range"], row["infer_speedup_range"]
    lines.append(
        f"ours/timm per repetition: train {train[0]:.3f} to {train[1]:.3f}, "
        f"infer {infer[0]:.3f} to {infer[1]:.3f}"
    )
    lines.append(
        f"ours: train {row['ours_train_tflops']:.3g} TFLOP/s, infer {row['ours_infer_tflops']:.3g} TFLOP/s"
    )
    lines.append(
        f"ours vs timm in eager fp32: train {row['train_speedup_vs_eager']:.3g}x, "
        f"infer {row['infer_speedup_vs_eager']:.3g}x"
    )
    return "\n".join(lines)


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="hrnet-lit bench", description=__doc__)
    p.add_class_arguments(BenchConfig)
    p.add_argument("--json", type=bool, default=False, help="print one JSON object")
    return p


# What `bench --config` takes from the fit config; every other BenchConfig field stays a bench flag.
_FROM_CONFIG = ("preset", "head", "num_classes", "input_size")
# Backbone knobs that bench may ignore: its sides fuse with timm's nearest upsampling in batch norm.
_IGNORED_KNOBS = ("upsample_mode", "align_corners", "norm", "grad_checkpointing")


def config_network(fit_args: list[str]) -> dict[str, Any]:
    """The preset, head, classes (or joints) and training input size of any task's fit config.

    timm has only the presets, so a config whose backbone changes a preset's width, modules, blocks
    or fusion cannot be compared, and is refused naming the knob.
    """
    from hrnet_lit.cli.app import config_network as network_of
    from hrnet_lit.cli.app import parse_fit_args
    from hrnet_lit.errors import InputError

    _, arch, data = network_of(parse_fit_args(fit_args))
    backbone = arch["backbone"]
    changed = {k: v for k, v in backbone.knobs().items() if k not in _IGNORED_KNOBS and k != "fuse_method"}
    if backbone.fuse_method != "sum":
        changed["fuse_method"] = backbone.fuse_method
    if backbone.preset is None or changed:
        knobs = ", ".join(f"model.backbone.{k}={v}" for k, v in changed.items())
        raise InputError(f"bench compares with timm's HRNet presets, which have no {knobs or 'preset=null'}")
    return {
        "preset": backbone.preset,
        "head": arch["head"],
        "num_classes": arch.get("num_classes", arch.get("num_joints")),  # heatmaps of a pose network
        "input_size": data.input_size,
    }


def main(argv: list[str] | None = None) -> None:
    """`bench [flags]`, or `bench --config fit.yaml [fit flags] [bench flags]` for a run's network:
    preset, head, classes and input size come from the config (`--input_size=` still overrides)."""
    argv = sys.argv[2:] if argv is None else argv
    from_config = {}
    if uses_fit_config(argv):
        own = tuple(f"--{name}=" for name in (*BenchConfig.__dataclass_fields__, "json"))
        mine, fit_args = split_own_flags(argv, own)
        from_config = config_network(fit_args)
        if any(a.startswith("--input_size=") for a in mine):
            from_config.pop("input_size")
        argv = mine
    args = parser().parse_args(argv)
    json_output = args.pop("json")
    values = {**args.as_dict(), **from_config}
    config = BenchConfig(**{**values, "input_size": tuple(values["input_size"])})
    row = bench(config)
    print(json.dumps(row) if json_output else format_table(row))
