"""The `hrnet-lit` entry point: LightningCLI (fit / validate / test / predict) plus project tools."""

from __future__ import annotations

import importlib
import sys

# Commands that are not Trainer methods, each a module with `main(argv)`.
TOOLS = {
    "summary": "hrnet_lit.summary",
    "bench": "hrnet_lit.bench",
    "export": "hrnet_lit.export",
    "sweep": "hrnet_lit.sweep",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in TOOLS:
        importlib.import_module(TOOLS[argv[0]]).main(argv[1:])
        return
    raise SystemExit(f"usage: hrnet-lit {{fit,validate,test,predict,{','.join(TOOLS)}}} ...")
