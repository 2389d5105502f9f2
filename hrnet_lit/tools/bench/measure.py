"""Timing and peak memory of `hrnet-lit bench`'s two sides, computing the same function on the same input.

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
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import nn

from hrnet_lit.models.fast import fuse_for_inference
from hrnet_lit.tools.bench.config import DTYPES, BenchConfig, Clock
from hrnet_lit.tools.bench.pair import build_pair

_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


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
    code = "import sys; from hrnet_lit.tools.bench.measure import _memory_child; _memory_child(sys.argv[1])"
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
