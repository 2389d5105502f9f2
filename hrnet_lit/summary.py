"""`hrnet-lit summary`: parameters and multiply-accumulates of a whole network, before training it."""

from __future__ import annotations

import json
import sys
from typing import Any

import torch
from jsonargparse import ArgumentParser

from hrnet_lit.models import build_model, count_macs, count_params, gmacs
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.heads import HeadName


def network_cost(model: torch.nn.Module, input_size: tuple[int, int]) -> dict[str, Any]:
    """Parameters and MACs of `model` for one image of `input_size` (counted on the meta device)."""
    macs = count_macs(model, input_size)
    return {"params": count_params(model), "macs": macs, "gmacs": round(gmacs(macs), 2)}


def summarize(
    backbone: BackboneConfig, head: HeadName, num_classes: int, input_size: tuple[int, int]
) -> dict[str, Any]:
    with torch.device("meta"):
        model = build_model(head, num_classes, backbone.preset, **backbone.knobs())
    return {
        "preset": backbone.preset,
        "head": head,
        "num_classes": num_classes,
        "input_size": list(input_size),
        **network_cost(model, input_size),
    }


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="hrnet-lit summary", description=__doc__)
    p.add_class_arguments(BackboneConfig, as_group=True)
    p.add_argument("--head", type=HeadName, default="v2", help="representation head")
    p.add_argument("--num_classes", type=int, default=19, help="classes / heatmaps of the task layer")
    p.add_argument("--input_size", type=tuple[int, int], default=(1024, 2048), help="H, W of one image")
    p.add_argument("--json", type=bool, default=False, help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(sys.argv[2:] if argv is None else argv)
    knobs = {k: args[k] for k in BackboneConfig.__dataclass_fields__}
    row = summarize(BackboneConfig(**knobs), args.head, args.num_classes, tuple(args.input_size))
    if args.json:
        print(json.dumps(row))
    else:
        width = max(map(len, row))
        print("\n".join(f"{k:<{width}}  {v}" for k, v in row.items()))
