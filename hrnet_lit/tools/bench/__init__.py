"""`hrnet-lit bench`: our HRNet against timm's, computing the same function on the same input
(`pair`: the two sides; `measure`: speed and memory; `command`: the record, table and flags), and
`bench --data`: a config's data pipelines per core beside its network (`fake_sets`: fake data in
the real formats; `data_rate`: a loader worker's samples/s; `train_step`: any task's training step
on a made-up batch; `data_command`: the record, table and flags)."""

from hrnet_lit.tools.bench.command import bench, format_table, main, parser
from hrnet_lit.tools.bench.config import BenchConfig
from hrnet_lit.tools.bench.measure import paired_speedups
from hrnet_lit.tools.bench.pair import build_pair

__all__ = ["BenchConfig", "bench", "build_pair", "format_table", "main", "paired_speedups", "parser"]
