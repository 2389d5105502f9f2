"""Training throughput, peak memory and MFU of every task's official recipe on one GPU, eager and
with the fast paths, and the loader workers each needs.

    .venv/bin/python benchmarks/gpu.py --json gpu.json             # one GPU, under 8 minutes
    .venv/bin/python benchmarks/gpu.py --device cpu --tiny --json tiny.json   # the path, in seconds

Per recipe (its config's network, per-GPU batch and input size) and variant, a training step is
forward, loss, backward and an SGD update (`hrnet_lit.tools.bench.train_step`: the stand-in loss of
`bench` for the dense tasks, the detector's own losses on made-up boxes and masks for detection and
instance). Variants: fp32 (cuDNN's default TF32 convolutions), bf16 autocast + channels_last, and
that compiled with each `--compile_modes` (`default`: inductor kernels; `reduce-overhead`: the same
in CUDA graphs, which a detector cannot use, its proposals changing shape every step; there the
compiled part is the HRNet and neck). Each variant runs untimed warm-up steps (compilation
included, timed apart), then timed steps for `--seconds`; peak memory is the CUDA allocator's peak
over the timed steps (not measured on the CPU).

MFU = training images/s x 3 x 2 x MACs per image / the device's peak FLOP/s: the counted MACs of
convs and linears (`hrnet_lit.models.count_macs`, as `hrnet-lit summary`), a training step counted
as three forwards; for the detectors the MACs of the HRNet and neck at the resized image only (the
RPN and RoI heads left out, so a lower bound). Peaks assumed (dense, NVIDIA's data sheets):
H100 SXM / H200: bf16 989.4 TFLOP/s, TF32 494.7 (the fp32 rows' convolutions run in TF32, cuDNN's
default); H100 PCIe: 756 and 378. `--peak_tflops BF16 FP32` states others.

Loader workers: the recipe's train pipeline is timed on one core of this machine first (a fake set
in the real format, `hrnet_lit.tools.bench.fake_sets`), and each variant's images/s divided by it.

The whole run keeps to `--budget_s`: the eager variants of every recipe first, then the compiled
ones (`COMPILE_ORDER`, each mode in turn) while the budget leaves `--compile_estimate_s` for each;
what does not fit is listed as skipped. `--tiny` swaps the official recipes for the task
quickstarts (small networks, their synthetic data) at batch 2, with one warm-up and one timed step:
the whole path in seconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hrnet_lit.cli.task_choice import import_class
from hrnet_lit.models import HRNetModel, count_macs
from hrnet_lit.tools.bench.data_rate import pipeline_rate
from hrnet_lit.tools.bench.fake_sets import COCO_SIZE, make_fake_set
from hrnet_lit.tools.bench.train_step import TrainStep, example_batch, is_detector
from hrnet_lit.tools.fit_config import config_network, parse_fit_args

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Recipe:
    name: str
    config: str  # the official recipe
    tiny: str  # its task's quickstart


RECIPES = (
    Recipe("segmentation W48 Cityscapes 512x1024", "configs/cityscapes_w48.yaml", "configs/quickstart.yaml"),
    Recipe("pose W32 COCO 256x192", "configs/pose/coco_w32_256x192.yaml", "configs/pose/quickstart.yaml"),
    Recipe(
        "classification W18 ImageNet 224",
        "configs/classification/imagenet_w18.yaml",
        "configs/classification/quickstart.yaml",
    ),
    Recipe(
        "classification W32 ImageNet 224",
        "configs/classification/imagenet_w32.yaml",
        "configs/classification/quickstart.yaml",
    ),
    Recipe(
        "detection W32 Faster R-CNN 1x",
        "configs/detection/coco_w32_1x.yaml",
        "configs/detection/quickstart.yaml",
    ),
    Recipe(
        "instance W32 Mask R-CNN 1x", "configs/instance/coco_w32_1x.yaml", "configs/instance/quickstart.yaml"
    ),
    Recipe(
        "landmarks W18 300W 256x256", "configs/landmarks/300w_w18.yaml", "configs/landmarks/quickstart.yaml"
    ),
)

# The order in which the compiled variants get the time left: the recipes whose loaders are the
# question first (pose and classification train fastest), the detectors last.
COMPILE_ORDER = (
    "pose",
    "classification W32",
    "segmentation",
    "classification",
    "landmarks",
    "detection",
    "instance",
)

# Dense peak TFLOP/s (bf16, TF32) by device name: NVIDIA's H100 / H200 data sheets.
PEAKS = (("H200", (989.4, 494.7)), ("H100 PCIe", (756.0, 378.0)), ("H100", (989.4, 494.7)))


def device_peaks(device: torch.device, given: list[float] | None) -> tuple[float, float] | None:
    """(bf16, fp32) peak TFLOP/s: given, or by the device's name; None when unknown (the CPU)."""
    if given:
        return given[0], given[1]
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peaks for key, peaks in PEAKS if key in name), None)


@dataclass
class Setup:
    """A recipe's parts: the task, its `architecture` arguments, the data module, the batch and
    the size of its images."""

    recipe: Recipe
    task: Any
    arch: dict[str, Any]
    data: Any
    data_args: dict[str, Any]  # the data module's class and init args, to rebuild it on a fake set
    batch: int
    size: tuple[int, int]

    def network(self) -> torch.nn.Module:
        torch.manual_seed(0)
        return self.task.build_network(**self.arch)


def setup(recipe: Recipe, tiny: bool) -> Setup:
    parsed = parse_fit_args(["--config", str(ROOT / (recipe.tiny if tiny else recipe.config))])
    task, arch, data = config_network(parsed)
    size = tuple(data.input_size)
    if task.kind in ("detection", "instance") and not tiny:
        size = COCO_SIZE  # a COCO photo; the detector resizes it (shorter side 800)
    data_args = {"class_path": parsed.data.class_path, **vars(parsed.data.get("init_args") or {})}
    return Setup(recipe, task, arch, data, data_args, 2 if tiny else data.batch_size, size)


def dense_macs(s: Setup) -> int:
    """MACs per image of what MFU counts: the network, or a detector's HRNet and neck at the size
    its transform resizes the image to."""
    with torch.device("meta"):
        net = s.network()
    if not is_detector(net):
        return count_macs(net, s.size)
    resized = net.transform.to("cpu")([torch.zeros(3, *s.size, device="cpu")])[0].tensors.shape[-2:]
    pyramid = net.backbone
    return count_macs(HRNetModel(pyramid.backbone, pyramid.head, pyramid.reduce), tuple(resized))


def loader_rate(s: Setup, scratch: Path, tiny: bool, samples: int) -> float | None:
    """Train samples/s on one core of this machine (a fake set in the real format, or the tiny
    config's synthetic data); None when `samples` is 0."""
    if not samples:
        return None
    data = s.data
    if hasattr(data, "root"):
        root = make_fake_set(data, scratch / type(data).__name__, files=2)
        init_args = {k: v for k, v in s.data_args.items() if k != "class_path"}
        data = import_class(s.data_args["class_path"])(**{**init_args, "root": str(root)})
    data.num_workers = 0
    collate = data.val_dataloader().collate_fn
    batches = math.ceil(samples / data.batch_size)
    return pipeline_rate(data.dataset("train"), collate, data.batch_size, "train", 1, batches).median


@dataclass(frozen=True)
class Variant:
    name: str
    dtype: torch.dtype
    channels_last: bool
    compile_mode: str | None = None


def variants(compile_modes: list[str]) -> tuple[list[Variant], list[Variant]]:
    eager = [Variant("fp32", torch.float32, False), Variant("bf16 + channels_last", torch.bfloat16, True)]
    compiled = [
        Variant(f"bf16 + channels_last + compile ({m})", torch.bfloat16, True, m) for m in compile_modes
    ]
    return eager, compiled


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_variant(
    s: Setup, v: Variant, device: torch.device, warmup: int, seconds: float, tiny: bool
) -> dict[str, Any]:
    """images/s, peak GiB and warm-up seconds of one variant (or why it did not run)."""
    net = s.network()
    if v.compile_mode == "reduce-overhead" and is_detector(net):
        return {"note": "n/a: CUDA graphs need fixed shapes; a detector's proposals change every step"}
    torch._dynamo.reset()
    try:
        step = TrainStep(net, device, v.dtype, v.channels_last, v.compile_mode)
        batch = step.to_device(example_batch(net, s.batch, s.size))
        start = time.perf_counter()
        for _ in range(warmup + (2 if v.compile_mode else 0)):
            step(batch)
        _sync(device)
        warmup_s = time.perf_counter() - start
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        steps, start = 0, time.perf_counter()
        while steps < 1 or (not tiny and time.perf_counter() - start < seconds):
            step(batch)
            steps += 1
            if steps % 5 == 0 or tiny:
                _sync(device)
        _sync(device)
        elapsed = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
        return {
            "images_per_s": steps * s.batch / elapsed,
            "steps": steps,
            "peak_gib": peak,
            "warmup_s": round(warmup_s, 2),
        }
    except torch.cuda.OutOfMemoryError:
        return {"note": "out of memory"}
    except Exception as error:  # a variant that fails (a compile error) must not end the run
        return {"note": f"failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"}
    finally:
        del net
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def finish_row(row: dict[str, Any], macs: int, peaks: tuple[float, float] | None, rate: float | None) -> None:
    """MFU and loader workers of a measured row."""
    if "images_per_s" not in row:
        return
    images = row["images_per_s"]
    tflops = images * 3 * 2 * macs / 1e12
    row["tflops"] = tflops
    if peaks is not None:
        row["mfu"] = tflops / (peaks[0] if row["dtype"] == "bfloat16" else peaks[1])
    if rate:
        row["loader_workers"] = math.ceil(images / rate)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    device = torch.device(args.device)
    peaks = device_peaks(device, args.peak_tflops)
    chosen = [r for r in RECIPES if not args.recipes or any(k in r.name for k in args.recipes)]
    setups = [setup(r, args.tiny) for r in chosen]
    rates: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="hrnet-lit-gpu-") as scratch:
        for s in setups:
            rates[s.recipe.name] = loader_rate(s, Path(scratch), args.tiny, args.loader_samples)
    macs = {s.recipe.name: dense_macs(s) for s in setups}
    eager, compiled = variants(args.compile_modes)
    if device.type == "cpu" and not args.compile_on_cpu:
        compiled_plan = []
        skipped_compile = "skipped: inductor on the CPU takes minutes (--compile_on_cpu runs it)"
    else:
        first = sorted(
            setups, key=lambda s: next(k for k, p in enumerate(COMPILE_ORDER) if s.recipe.name.startswith(p))
        )
        compiled_plan = [(v, s) for v in compiled for s in first]
        skipped_compile = "skipped: over the time budget"
    plan = [(v, s) for s in setups for v in eager] + compiled_plan
    rows = []
    warmup = 1 if args.tiny else args.warmup
    for v, s in plan:
        row = {"recipe": s.recipe.name, "variant": v.name, "batch": s.batch, "input_size": list(s.size)}
        row["dtype"] = str(v.dtype).removeprefix("torch.")
        estimate = args.compile_estimate_s if v.compile_mode else args.seconds + 5
        if time.perf_counter() - begin + estimate > args.budget_s:
            row["note"] = "skipped: over the time budget"
        else:
            row.update(run_variant(s, v, device, warmup, args.seconds, args.tiny))
            finish_row(row, macs[s.recipe.name], peaks, rates[s.recipe.name])
        rows.append(row)
        print(json.dumps(row), flush=True)
    if compiled and not compiled_plan:
        rows += [
            {"recipe": s.recipe.name, "variant": v.name, "batch": s.batch, "note": skipped_compile}
            for s in setups
            for v in compiled
        ]
    return {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "tiny": args.tiny,
        "peak_tflops_bf16_fp32": peaks,
        "loader_samples_per_s_per_core": rates,
        "gmacs_per_image": {k: round(v / 2**30, 2) for k, v in macs.items()},
        "seconds_total": round(time.perf_counter() - begin, 1),
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['device']}, torch {result['torch']}, {result['seconds_total']} s in all"
        + (
            " (tiny: each recipe's task quickstart at batch 2, not the recipe's network)"
            if result["tiny"]
            else ""
        ),
        "",
        "| recipe | variant | batch | train images/s | peak GiB | MFU | loader workers | warm-up s | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(value: Any, form: str) -> str:
        return "-" if value is None else format(value, form)

    for r in result["rows"]:
        lines.append(
            f"| {r['recipe']} | {r['variant']} | {r['batch']} | {cell(r.get('images_per_s'), '.4g')} | "
            f"{cell(r.get('peak_gib'), '.2f')} | {cell(r.get('mfu'), '.1%')} | "
            f"{cell(r.get('loader_workers'), 'd')} | {cell(r.get('warmup_s'), '.1f')} | {r.get('note', '')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="the task quickstarts at batch 2, one step each")
    parser.add_argument("--recipes", nargs="*", help="only the recipes whose name contains one of these")
    parser.add_argument("--compile_modes", nargs="*", default=["default", "reduce-overhead"])
    parser.add_argument(
        "--compile_on_cpu", action="store_true", help="run the compiled variants on a CPU too"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant (compiled: +2)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="timed seconds per variant (--tiny: one step)"
    )
    parser.add_argument("--budget_s", type=float, default=420.0, help="the whole run's time budget")
    parser.add_argument(
        "--compile_estimate_s", type=float, default=90.0, help="budget kept per compiled variant"
    )
    parser.add_argument(
        "--loader_samples", type=int, default=32, help="train samples timed per loader; 0: none"
    )
    parser.add_argument("--peak_tflops", type=float, nargs=2, metavar=("BF16", "FP32"))
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu (and --tiny for a quick check)")
    result = benchmark(args)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
