"""`hrnet-lit bench`: the record of one measurement, its table, and the command line."""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import asdict
from typing import Any

import torch
from jsonargparse import ArgumentParser

from hrnet_lit.errors import InputError
from hrnet_lit.models import count_macs
from hrnet_lit.tools.bench.config import BenchConfig
from hrnet_lit.tools.bench.measure import build_runners, measure_memory, measure_speed, paired_speedups
from hrnet_lit.tools.bench.pair import compared_part, our_network
from hrnet_lit.tools.network_args import split_own_flags, uses_fit_config


def achieved_tflops(config: BenchConfig, row: dict[str, Any]) -> dict[str, float]:
    """Our network's TFLOP/s (2 FLOPs per conv / linear MAC; a training step as three forwards),
    and their share of `peak_tflops` when given."""
    with torch.device("meta"):
        model = our_network(config, upsample_mode="bilinear")
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
    row["compared"] = compared_part(config)
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
        f"{row['task']} ({row['compared']}): {row['preset']} / {row['head']}, {size}, {row['device']} "
        f"({row['threads']} threads, "
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


DESCRIPTION = (
    "`hrnet-lit bench`: speed and memory of our HRNet against timm's, the same function on the same "
    "input. Either these flags, or --config FILE [fit flags] [bench flags]: the task, preset, head, "
    "classes and input size of a fit config (timm runs only sizes that 32 divides). "
    "`bench --data --config FILE`: the config's data pipelines per core against its network "
    "(`hrnet-lit bench --data --help`)."
)


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="hrnet-lit bench", description=DESCRIPTION)
    p.add_class_arguments(BenchConfig)
    p.add_argument("--json", type=bool, default=False, help="print one JSON object")
    return p


# What `bench --config` takes from the fit config; every other BenchConfig field stays a bench flag.
_FROM_CONFIG = ("task", "preset", "head", "num_classes", "input_size")
# Backbone knobs that bench may ignore: its sides fuse with timm's nearest upsampling in batch norm.
_IGNORED_KNOBS = ("upsample_mode", "align_corners", "norm", "grad_checkpointing")


def config_network(fit_args: list[str]) -> dict[str, Any]:
    """The task, preset, head, output size and training input size of any task's fit config.

    timm has only the presets, so a config whose backbone changes a preset's width, modules, blocks
    or fusion cannot be compared, and is refused naming the knob.
    """
    from hrnet_lit.tools.fit_config import config_network as network_of
    from hrnet_lit.tools.fit_config import parse_fit_args

    task, arch, data = network_of(parse_fit_args(fit_args))
    backbone = arch["backbone"]
    changed = {k: v for k, v in backbone.knobs().items() if k not in _IGNORED_KNOBS and k != "fuse_method"}
    if backbone.fuse_method != "sum":
        changed["fuse_method"] = backbone.fuse_method
    if backbone.preset is None or changed:
        knobs = ", ".join(f"model.backbone.{k}={v}" for k, v in changed.items())
        raise InputError(f"bench compares with timm's HRNet presets, which have no {knobs or 'preset=null'}")
    return {
        "task": task.kind,
        "preset": backbone.preset,
        "head": arch["head"],
        "num_classes": arch[task.output_arg],
        "input_size": data.input_size,
    }


# timm's HRNet fuses by upsampling a fixed factor 2 per branch (1/4 ... 1/32 of the image): only sizes
# that 32 divides give branches that line up.
TIMM_MULTIPLE = 32


def check_timm_size(size: tuple[int, int], source: str) -> None:
    """An `InputError`, with the nearest sizes both sides run, for a size timm's HRNet cannot run."""
    if min(size) >= 1 and all(s % TIMM_MULTIPLE == 0 for s in size):
        return
    down = [max(TIMM_MULTIPLE, s // TIMM_MULTIPLE * TIMM_MULTIPLE) for s in size]
    up = [max(TIMM_MULTIPLE, -(-s // TIMM_MULTIPLE) * TIMM_MULTIPLE) for s in size]
    nearest = " or ".join(dict.fromkeys(f"--input_size=[{h},{w}]" for h, w in (down, up)))
    raise InputError(
        f"{source} input size {size[0]}x{size[1]} cannot run on timm's HRNet, whose fusion "
        f"upsamples by a fixed factor 2, so H and W must be multiples of {TIMM_MULTIPLE}; the nearest "
        f"sizes both networks run: {nearest}"
    )


def main(argv: list[str] | None = None) -> None:
    """`bench [flags]`, or `bench --config fit.yaml [fit flags] [bench flags]` for a run's network:
    preset, head, classes and input size come from the config (`--input_size=` still overrides)."""
    argv = sys.argv[2:] if argv is None else argv
    if "--data" in argv or "--data=true" in argv:
        from hrnet_lit.tools.bench.data_command import main_data

        main_data(argv)
        return
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
    check_timm_size(config.input_size, "the config's" if "input_size" in from_config else "--input_size")
    row = bench(config)
    print(json.dumps(row) if json_output else format_table(row))
