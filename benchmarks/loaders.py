"""Per-core loader throughput of the official recipes, before and after a change, side by side.

    .venv/bin/python benchmarks/loaders.py --before /path/to/old/checkout --after . [--repeats 6]

Makes the fake sets once (the after tree's `hrnet_lit.tools.bench.fake_sets`, at the formats' own
sizes), then starts one process per source tree (`PYTHONPATH=<tree>`, one thread), each building
every recipe's data module from its own tree's config with `--data.root` pointing at the fake set.
Both processes are pinned to one core (`--cpu`), so that neither keeps a core with busier
neighbours; the rounds alternate between them, one recipe at a time, the order flipping every
round (an even `--repeats` puts each first as often), so that drift on a shared machine hits both
alike; only one process works at a time. A round reads `dataset[key]` for the train loader's
keys (`KeyedSamples`) or the val indices, and collates them, as one loader worker does, timed in
the process's CPU time. Reported: medians of
samples/s per core, the ratio after / before of the medians, and the range of the per-round
ratios and rates, as a markdown table (and `--json`).

The child side uses only what both trees have (`hrnet_lit.tools.fit_config`, the data module's
`dataset`, `batch_size`, `eval_batch_size`, `val_dataloader().collate_fn`, and
`hrnet_lit.common.resumable`), so an old checkout runs it too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# name, config (relative to each tree), split, fake set
RECIPES: list[tuple[str, str, str, str]] = [
    (
        "Cityscapes train, 2048x1024 PNG -> 512x1024 crop",
        "configs/cityscapes_w48.yaml",
        "train",
        "cityscapes",
    ),
    ("Cityscapes val, full image", "configs/cityscapes_w48.yaml", "val", "cityscapes"),
    (
        "COCO pose train, 640x480 JPEG -> 256x192",
        "configs/pose/coco_w32_256x192.yaml",
        "train",
        "coco_keypoints",
    ),
    (
        "COCO pose val (flip test on the device)",
        "configs/pose/coco_w32_256x192.yaml",
        "val",
        "coco_keypoints",
    ),
    ("ImageNet train, 500x375 JPEG -> 224", "configs/classification/imagenet_w18.yaml", "train", "imagenet"),
    ("ImageNet val, 256 -> 224", "configs/classification/imagenet_w18.yaml", "val", "imagenet"),
    ("COCO det train, 640x480 JPEG", "configs/detection/coco_w32_1x.yaml", "train", "coco_detection"),
]
_REPLY = "@@loaders "  # marks the child's answers among whatever else it prints


def make_fake_sets(after: Path, root: Path, files: int, kinds: set[str]) -> dict[str, str]:
    """The fake sets the recipes read, written once under `root` by the after tree's makers."""
    sys.path.insert(0, str(after))
    from hrnet_lit.tools.bench import fake_sets

    makers = {
        "cityscapes": fake_sets.make_cityscapes,
        "coco_keypoints": fake_sets.make_coco_keypoints,
        "imagenet": fake_sets.make_imagenet,
        "coco_detection": fake_sets.make_coco_detection,
    }
    roots = {}
    for kind in sorted(kinds):
        start = time.perf_counter()
        roots[kind] = str(makers[kind](root / kind, files=files))
        print(f"fake {kind} set: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return roots


# -- the child: one source tree ------------------------------------------------------------------------


def _child(request: str) -> None:
    """Builds every recipe's dataset from this tree, then answers one round per line of stdin."""
    import torch

    from hrnet_lit.cli.task_choice import import_class
    from hrnet_lit.common.resumable import KeyedSamples, stream_seed
    from hrnet_lit.tools.fit_config import parse_fit_args

    torch.set_num_threads(1)
    spec = json.loads(request)
    if spec["cpu"] is not None:
        os.sched_setaffinity(0, {spec["cpu"]})
    pipelines = {}
    for name, config, split, root in spec["recipes"]:
        parsed = parse_fit_args(["--config", config, f"--data.root={root}"])
        init_args = {**vars(parsed.data.init_args), "num_workers": 0}
        data = import_class(parsed.data.class_path)(**init_args)
        dataset = data.dataset(split)
        size = len(dataset)
        if split == "train":
            keyed = KeyedSamples(dataset)

            def read(k: int, keyed: KeyedSamples = keyed, size: int = size) -> Any:
                return keyed[(k % size, stream_seed(0, 0, k % size, k))]
        else:

            def read(k: int, dataset: Any = dataset, size: int = size) -> Any:
                return dataset[k % size]

        batch = data.batch_size if split == "train" else data.eval_batch_size
        collate = data.val_dataloader().collate_fn
        collate([read(k) for k in range(batch)])  # untimed: file cache, lazy set-up
        pipelines[name] = (read, collate, batch)
    import hrnet_lit

    print(_REPLY + json.dumps({"ready": hrnet_lit.__file__}), flush=True)
    position = 1 << 20
    for line in sys.stdin:
        ask = json.loads(line)
        read, collate, batch = pipelines[ask["recipe"]]
        batches = max(1, math.ceil(ask["samples"] / batch))
        start = time.process_time()
        for _ in range(batches):
            collate([read(position + k) for k in range(batch)])
            position += batch
        seconds = time.process_time() - start
        print(_REPLY + json.dumps({"samples_per_s": batches * batch / seconds}), flush=True)


class Tree:
    """A child process serving rounds from the source tree at `path`."""

    def __init__(self, label: str, path: Path, recipes: list[list[str]], cpu: int | None) -> None:
        self.label = label
        env = {**os.environ, "PYTHONPATH": str(path), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        request = json.dumps({"recipes": recipes, "cpu": cpu})
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", request],
            cwd=path,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._answer()
        if not Path(ready["ready"]).resolve().is_relative_to(path.resolve()):
            raise SystemExit(f"{label}: hrnet_lit came from {ready['ready']}, not from {path}")
        self.package = ready["ready"]

    def _answer(self) -> dict[str, Any]:
        for line in self.process.stdout:
            if line.startswith(_REPLY):
                return json.loads(line[len(_REPLY) :])
        raise SystemExit(f"{self.label}: the child process ended (exit status {self.process.wait()})")

    def round(self, recipe: str, samples: int) -> float:
        self.process.stdin.write(json.dumps({"recipe": recipe, "samples": samples}) + "\n")
        self.process.stdin.flush()
        return self._answer()["samples_per_s"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def _git_head(path: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    recipes = [r for r in RECIPES if not args.recipes or any(key in r[0] for key in args.recipes)]
    commits = {"before": _git_head(args.before), "after": _git_head(args.after)}  # as the run starts
    with tempfile.TemporaryDirectory(prefix="hrnet-lit-loaders-") as scratch:
        roots = make_fake_sets(args.after, Path(scratch), args.files, {r[3] for r in recipes})
        served = [[name, config, split, roots[kind]] for name, config, split, kind in recipes]
        cpu = None if args.cpu < 0 else args.cpu
        trees = [Tree("before", args.before, served, cpu), Tree("after", args.after, served, cpu)]
        rates: dict[str, dict[str, list[float]]] = {r[0]: {"before": [], "after": []} for r in recipes}
        try:
            for repeat in range(args.repeats):
                for k, (name, *_) in enumerate(recipes):
                    order = trees if (repeat + k) % 2 == 0 else trees[::-1]
                    for tree in order:
                        rates[name][tree.label].append(tree.round(name, args.samples))
                print(f"round {repeat + 1} of {args.repeats} done", file=sys.stderr)
        finally:
            for tree in trees:
                tree.close()
    rows = []
    for name, sides in rates.items():
        before, after = sides["before"], sides["after"]
        pairs = sorted(a / b for a, b in zip(after, before, strict=True))
        rows.append(
            {
                "recipe": name,
                "before": round(statistics.median(before), 2),
                "after": round(statistics.median(after), 2),
                "ratio": round(statistics.median(after) / statistics.median(before), 3),
                "ratio_range": [round(pairs[0], 3), round(pairs[-1], 3)],
                "before_range": [round(min(before), 2), round(max(before), 2)],
                "after_range": [round(min(after), 2), round(max(after), 2)],
                "before_rounds": [round(r, 2) for r in before],
                "after_rounds": [round(r, 2) for r in after],
            }
        )
    return {
        "before": {"tree": str(args.before), "commit": commits["before"]},
        "after": {"tree": str(args.after), "commit": commits["after"]},
        "repeats": args.repeats,
        "cpu": args.cpu,
        "samples_per_round": args.samples,
        "files_per_split": args.files,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    before, after = result["before"]["commit"], result["after"]["commit"]
    lines = [
        f"Samples/s on one core (CPU time), median of {result['repeats']} alternating rounds of "
        f">= {result['samples_per_round']} samples; before = {before}, after = {after}.",
        "",
        "| recipe | before | after | after / before | per-round ratio range | before range | after range |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['recipe']} | {r['before']:.4g} | {r['after']:.4g} | {r['ratio']:.3f} | "
            f"{r['ratio_range'][0]:.3f} - {r['ratio_range'][1]:.3f} | "
            f"{r['before_range'][0]:.4g} - {r['before_range'][1]:.4g} | "
            f"{r['after_range'][0]:.4g} - {r['after_range'][1]:.4g} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the source tree before the change")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument(
        "--repeats", type=int, default=6, help="rounds per recipe and tree (even: each first as often)"
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=min(os.sched_getaffinity(0)),
        help="the core both processes run on; -1: any",
    )
    parser.add_argument("--samples", type=int, default=32, help="samples per round, at least (whole batches)")
    parser.add_argument("--files", type=int, default=3, help="images per split of each fake set")
    parser.add_argument("--recipes", nargs="*", help="only the recipes whose name contains one of these")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.before, args.after = args.before.resolve(), args.after.resolve()
    result = measure(args)
    text = table(result)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
