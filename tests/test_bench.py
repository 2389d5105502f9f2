"""`hrnet-lit bench`: both sides compute the same function, and the command reports what it promises."""

from __future__ import annotations

import json

import pytest
import torch

from hrnet_lit import cli
from hrnet_lit.tools.bench import BenchConfig, build_pair, format_table, paired_speedups
from hrnet_lit.tools.bench.pair import compared_part


@pytest.mark.parametrize(
    ("task", "head"),
    [("segmentation", "v2"), ("classification", "cls"), ("detection", "v2p"), ("instance", "v1")],
)
def test_both_sides_compute_the_same_function(task: str, head: str) -> None:
    """Of a detector, the dense part (HRNet and neck) is compared: five HRFPN levels for v2p."""
    torch.manual_seed(0)
    ours, reference = build_pair(BenchConfig(task=task, preset="w18_small_v1", head=head, num_classes=4))
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        out = ours.eval()(x)
        torch.testing.assert_close(out, reference.eval()(x), rtol=0, atol=1e-5)
    assert len(out) == 5 if head == "v2p" else isinstance(out, torch.Tensor)
    assert compared_part(BenchConfig(task=task, head=head)).startswith(
        "HRNet + neck" if head in ("v2p", "v1") else "the whole"
    )


@pytest.mark.slow
def test_bench_reports_speed_memory_and_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--preset=w18_small_v1", "--input_size=[64,64]", "--repeats=1", "--warmup=0", "--threads=1"]
    flags.append("--peak_tflops=2.5")
    threads = torch.get_num_threads()
    try:
        cli.main(["bench", *flags, "--channels_last=true", "--fuse_bn=true", "--json=true"])
    finally:
        torch.set_num_threads(threads)
    row = json.loads(capsys.readouterr().out)
    for key in ("train_speedup", "infer_speedup", "memory_ratio", "train_speedup_vs_eager"):
        assert row[key] > 0, key
    assert row["infer_speedup_vs_eager"] > 0 and row["ours_peak_train_mib"] > 0
    assert row["timm_eager_train_images_per_s"] > 0, "fast paths on: plain timm is measured too"
    for kind in ("train", "infer"):
        low, high = row[f"{kind}_speedup_range"]
        assert 0 < low <= high, kind
        share = row[f"ours_{kind}_tflops"] / 2.5
        assert row[f"ours_{kind}_peak_share"] == pytest.approx(share, rel=1e-3) and share > 0, kind
    table = format_table(row)
    assert "ours/timm" in table and "eager fp32" in table and "per repetition" in table


def test_paired_speedups_divide_each_repetition_by_its_partner() -> None:
    assert paired_speedups([2.0, 1.0, 4.0], [2.0, 3.0, 2.0]) == [0.5, 1.0, 3.0]
