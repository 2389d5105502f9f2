"""`hrnet-lit bench --data --config FILE`: how fast one core prepares the config's data, next to how
fast the config's network trains on this machine, and the loader workers that keep it fed.

The data are the config's own data module reading a fake set in its real format (`fake_sets`,
written to a temporary folder, at the format's usual source size) or the data at `--data.root`;
the config's transforms and collation run as a loader worker runs them (`data_rate`). The network
is the config's, trained on a made-up batch (`train_step`) at a small batch on this machine's CPU:
the point is the ratio, the loader workers that one training process here would need.
`--device_images_per_s` states another trainer's speed (an accelerator's) to size its workers.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from jsonargparse import ArgumentParser
from jsonargparse.typing import NonNegativeInt, PositiveFloat, PositiveInt

from hrnet_lit.errors import InputError
from hrnet_lit.tools.bench.data_rate import pipeline_rate
from hrnet_lit.tools.bench.fake_sets import FAKE_SETS, make_fake_set
from hrnet_lit.tools.bench.train_step import TrainStep, example_batch
from hrnet_lit.tools.network_args import split_own_flags, uses_fit_config

SPLITS = ("train", "val")


@dataclass
class DataBenchConfig:
    """What `bench --data` measures.

    Args:
        splits: the pipelines to time (`train`, `val`).
        rounds: timed rounds per split; the median is reported, with the range.
        batches: batches per round (of the config's batch size; evaluation's for val).
        files: images per split in the fake set (reused by index).
        source_size: H, W of the fake set's images; unset: the format's usual size (Cityscapes
            1024 x 2048, COCO 480 x 640, ImageNet 375 x 500).
        seed: the fake set's and the keyed augmentation's seed.
        net_batch_size: images per training step of the network (on this machine's CPU).
        net_steps: timed training steps (after one untimed); 0 leaves the network out.
        threads: torch threads of the network's steps (torch's default when unset); the loaders
            always run on one.
        device_images_per_s: a trainer's images per second (an accelerator's) to size the loader
            workers for.
    """

    splits: tuple[str, ...] = SPLITS
    rounds: PositiveInt = 3
    batches: PositiveInt = 2
    files: PositiveInt = 3
    source_size: tuple[int, int] | None = None
    seed: NonNegativeInt = 0
    net_batch_size: PositiveInt = 1
    net_steps: NonNegativeInt = 2
    threads: PositiveInt | None = None
    device_images_per_s: PositiveFloat | None = None

    def __post_init__(self) -> None:
        unknown = [s for s in self.splits if s not in SPLITS]
        if unknown or not self.splits:
            raise InputError(f"--splits={list(self.splits)}: choose from {list(SPLITS)}")
        if self.source_size is not None and (len(self.source_size) != 2 or min(self.source_size) < 8):
            raise InputError(f"--source_size={list(self.source_size)}: expected [H, W], each at least 8")


def _gives_root(fit_args: list[str]) -> bool:
    return any(a.startswith(("--data.root=", "--data.init_args.root=")) for a in fit_args)


def _network_rate(
    task: Any, arch: dict[str, Any], size: tuple[int, int], config: DataBenchConfig
) -> dict[str, Any]:
    """The config's network's training images/s on this CPU, at `net_batch_size` images of `size`;
    on one thread timed in CPU time, as the loaders are (a shared machine's waits left out), on more
    in wall time."""
    torch.manual_seed(config.seed)
    net = task.build_network(**arch)
    step = TrainStep(net, torch.device("cpu"))
    batch = example_batch(net, config.net_batch_size, size)
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        used = torch.get_num_threads()
        clock = time.process_time if used == 1 else time.perf_counter
        step(batch)  # untimed: allocations, oneDNN's kernel choice
        seconds = []
        for _ in range(config.net_steps):
            start = clock()
            step(batch)
            seconds.append(clock() - start)
    finally:
        torch.set_num_threads(threads)
    steps_per_s = 1 / statistics.median(seconds)
    return {
        "net_input_size": list(size),
        "net_batch_size": config.net_batch_size,
        "net_threads": used,
        "net_clock": "cpu" if used == 1 else "wall",
        "net_steps_per_s": round(steps_per_s, 4),
        "net_images_per_s": round(steps_per_s * config.net_batch_size, 4),
    }


def bench_data(config: DataBenchConfig, fit_args: list[str]) -> dict[str, Any]:
    """Per-core samples/s of the config's pipelines, the network's training rate, and the workers."""
    from hrnet_lit.cli.task_choice import import_class
    from hrnet_lit.tools.fit_config import config_network, parse_fit_args

    parsed = parse_fit_args(fit_args)
    task, arch, data = config_network(parsed)
    row: dict[str, Any] = {"data_module": type(data).__name__, **asdict(config)}
    row["splits"] = list(config.splits)
    with tempfile.TemporaryDirectory(prefix="hrnet-lit-bench-") as scratch:
        size = None
        if hasattr(data, "root") and not _gives_root(fit_args):
            kind = FAKE_SETS.get(type(data).__name__)
            root = make_fake_set(data, Path(scratch), config.files, config.source_size, config.seed)
            size = config.source_size or kind.size
            init_args = {**vars(parsed.data.get("init_args") or {}), "root": str(root)}
            data = import_class(parsed.data.class_path)(**init_args)
            row["data"] = f"a fake {kind.name} set ({config.files} files per split, {size[0]}x{size[1]})"
        else:
            row["data"] = str(getattr(data, "root", "the config's built-in synthetic set"))
        row["config_num_workers"] = data.num_workers
        data.num_workers = 0  # the loader below only lends its collate function
        collate = data.val_dataloader().collate_fn
        for split in config.splits:
            batch = data.batch_size if split == "train" else data.eval_batch_size
            rate = pipeline_rate(
                data.dataset(split), collate, batch, split, config.rounds, config.batches, config.seed
            )
            row[split] = rate.record()
    if config.net_steps:
        net_size = tuple(data.input_size)
        if size is not None and task.kind in ("detection", "instance"):
            net_size = size  # the detector resizes the source images itself
        row.update(_network_rate(task, arch, net_size, config))
    row.update(workers(row, config.device_images_per_s))
    return row


def workers(row: dict[str, Any], device_images_per_s: float | None) -> dict[str, Any]:
    """Loader workers (one core each) that keep the training steps fed: here, and for
    `device_images_per_s`; whether the config's `num_workers` do."""
    if "train" not in row:
        return {}
    rate = row["train"]["samples_per_s"]
    out: dict[str, Any] = {}
    if "net_images_per_s" in row:
        out["workers_needed_here"] = math.ceil(row["net_images_per_s"] / rate)
    if device_images_per_s is not None:
        out["workers_needed_device"] = math.ceil(device_images_per_s / rate)
        out["config_workers_keep_up"] = row["config_num_workers"] * rate >= device_images_per_s
    return out


def format_data_table(row: dict[str, Any]) -> str:
    lines = [
        f"{row['data_module']} on {row['data']}; loaders on one core (CPU time), "
        f"median of {row['rounds']} rounds"
    ]
    lines.append(f"{'pipeline':<10}{'batch':>6}{'samples/s/core':>16}{'range':>18}")
    for split in row["splits"]:
        r = row[split]
        span = f"{r['range'][0]:.4g} - {r['range'][1]:.4g}"
        lines.append(f"{split:<10}{r['batch_size']:>6}{r['samples_per_s']:>16.4g}{span:>18}")
    if "net_images_per_s" in row:
        size = "x".join(map(str, row["net_input_size"]))
        lines.append(
            f"network: {row['net_steps_per_s']:.4g} training steps/s = "
            f"{row['net_images_per_s']:.4g} images/s ({row['net_batch_size']} x {size}, CPU, "
            f"{row['net_threads']} threads, {row['net_clock']} time)"
        )
    if "workers_needed_here" in row:
        lines.append(f"loader workers to keep that training fed: {row['workers_needed_here']}")
    if "workers_needed_device" in row:
        keeps = "keep up" if row["config_workers_keep_up"] else "fall short"
        lines.append(
            f"loader workers for {row['device_images_per_s']:.4g} images/s: {row['workers_needed_device']} "
            f"(the config's {row['config_num_workers']} {keeps})"
        )
    return "\n".join(lines)


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="hrnet-lit bench --data", description=__doc__.split("\n\n")[0])
    p.add_class_arguments(DataBenchConfig)
    p.add_argument("--json", type=bool, default=False, help="print one JSON object")
    return p


def main_data(argv: list[str]) -> None:
    """`bench --data --config FILE [fit flags] [these flags]`."""
    argv = [a for a in argv if a not in ("--data", "--data=true")]
    if "-h" in argv or "--help" in argv:
        parser().parse_args(["--help"])
    if not uses_fit_config(argv):
        raise InputError("bench --data measures a config's data: give --config FILE")
    own = tuple(f"--{name}=" for name in (*DataBenchConfig.__dataclass_fields__, "json"))
    mine, fit_args = split_own_flags(argv, own)
    args = parser().parse_args(mine)
    json_output = args.pop("json")
    values = args.as_dict()
    size = values["source_size"]
    config = DataBenchConfig(
        **{**values, "splits": tuple(values["splits"]), "source_size": size and tuple(size)}
    )
    row = bench_data(config, fit_args)
    print(json.dumps(row) if json_output else format_data_table(row))
