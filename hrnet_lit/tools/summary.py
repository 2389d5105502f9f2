"""`hrnet-lit summary`: parameters and multiply-accumulates of a whole network, before training it."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import torch
from jsonargparse import ArgumentParser

from hrnet_lit.models import count_macs, count_params, gmacs
from hrnet_lit.tools.network_args import (
    NetworkArgs,
    add_network_arguments,
    check_input_size,
    named_task,
    split_own_flags,
    uses_fit_config,
)


def network_cost(model: torch.nn.Module, input_size: tuple[int, int]) -> dict[str, Any]:
    """Parameters and MACs of `model` for one image of `input_size` (counted on the meta device)."""
    macs = count_macs(model, input_size)
    return {"params": count_params(model), "macs": macs, "gmacs": round(gmacs(macs), 2)}


def summarize(network: NetworkArgs, input_size: tuple[int, int]) -> dict[str, Any]:
    arguments = network.arguments()
    with torch.device("meta"):
        model = network.build()
    return {
        "task": network.task,
        "preset": network.backbone.preset,
        **{k: v for k, v in arguments.items() if k != "backbone"},
        "input_size": list(input_size),
        **network_cost(model, input_size),
    }


def plain(value: Any) -> Any:
    """A group of knobs (the detector's `DetectorConfig`) as a dict, so the row prints and
    serialises as JSON."""
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def summarize_fit_config(argv: list[str], input_size: tuple[int, int] | None) -> dict[str, Any]:
    """The network a `hrnet-lit fit <argv>` run would train, for any task (default size: the data
    module's training input).

    Lightning is imported here, not at the top: network flags alone never need it.
    """
    from hrnet_lit.tools.fit_config import config_network, parse_fit_args

    task, arch, data = config_network(parse_fit_args(argv))
    size = tuple(input_size or data.input_size)
    with torch.device("meta"):
        net = task.build_network(**arch)
    backbone = arch.get("backbone")
    return {
        "task": task.__name__,
        "preset": getattr(backbone, "preset", None),
        "head": arch.get("head"),
        **{k: plain(v) for k, v in arch.items() if k not in ("backbone", "head")},
        "input_size": list(size),
        **network_cost(net, size),
    }


CONFIG_MODE = (
    "Either network flags (--task, --preset, --width, ..., --head, --num_classes), or the network a fit "
    "would train: --config FILE [fit flags, e.g. --model.backbone.width=32] [--input_size=] [--json=]."
)


def parser(task: str | None = None) -> ArgumentParser:
    """The command's flags; with a `task`, also the flags naming a fresh network of it."""
    p = ArgumentParser(prog="hrnet-lit summary", description=f"{__doc__}\n\n{CONFIG_MODE}")
    if task is not None:
        add_network_arguments(p, task)
    p.add_argument(
        "--input_size",
        type=tuple[int, int] | None,
        default=None,
        help="H, W of one image (default 1024 x 2048, or the config's training crop)",
    )
    p.add_argument("--json", type=bool, default=False, help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> None:
    """`summary [network flags]`, or `summary --config fit.yaml [fit flags]` for a run's network.

    With `--config`, every flag except `--input_size=` and `--json=` goes to the fit parser.
    """
    argv = sys.argv[2:] if argv is None else argv
    if uses_fit_config(argv):
        own, fit_args = split_own_flags(argv, ("--input_size=", "--json="))
        args = parser().parse_args(own)
        check_input_size(args.input_size)
        row = summarize_fit_config(fit_args, tuple(args.input_size) if args.input_size else None)
    else:
        args = parser(named_task(argv)).parse_args(argv)
        check_input_size(args.input_size)
        size = tuple(args.input_size or (1024, 2048))
        row = summarize(NetworkArgs.from_namespace(args), size)
    if args.json:
        print(json.dumps(row))
    else:
        width = max(map(len, row))
        print("\n".join(f"{k:<{width}}  {v}" for k, v in row.items()))
