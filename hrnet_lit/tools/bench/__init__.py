"""`hrnet-lit bench`: our HRNet against timm's, computing the same function on the same input
(`pair`: the two sides; `measure`: speed and memory; `command`: the record, table and flags)."""

from hrnet_lit.tools.bench.command import bench, format_table, main, parser
from hrnet_lit.tools.bench.config import BenchConfig
from hrnet_lit.tools.bench.measure import paired_speedups
from hrnet_lit.tools.bench.pair import build_pair

__all__ = ["BenchConfig", "bench", "build_pair", "format_table", "main", "paired_speedups", "parser"]
