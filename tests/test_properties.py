"""Property tests: any valid knob combination and input size builds, runs and trains; any invalid knob
fails at construction with an error that names it.

Tiny widths and depths keep each example to milliseconds; `derandomize=True` and no example database
make every run draw the same examples, so CI is reproducible.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from networks import HEAD_TASK, network
from torch import nn

from hrnet_lit.errors import InputError
from hrnet_lit.models import FUSE_METHODS, HEAD_NAMES, PRESET_NAMES, HRNet, HRNetModel, V2pHead
from hrnet_lit.models.blocks import BLOCK_NAMES, BLOCKS
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.fusion import UPSAMPLE_MODES
from hrnet_lit.models.presets import preset_kwargs
from hrnet_lit.segmentation.network import build_network as build_segmenter
from hrnet_lit.tools.network_args import network_module

# sync_batch is plain BatchNorm in a single process, which is all a unit test runs.
NORM_NAMES = ("batch", "group", "sync_batch")
SEG_HEADS = ("v1", "v2", "v2p")


def fixed(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
    )


def rarely(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`value`, or None (the preset's or the constructor's default) one time in five."""
    return st.tuples(st.integers(0, 4), value).map(lambda t: None if t[0] == 0 else t[1])


def stage_ints(low: int, high: int) -> st.SearchStrategy[tuple[int, int, int, int]]:
    return st.tuples(
        st.integers(low, high), st.integers(low, high), st.integers(low, high), st.integers(low, high)
    )


@st.composite
def backbone_configs(draw: st.DrawFn) -> BackboneConfig:
    """Valid knobs at tiny widths: the cost stays small at 300 x 300 even with Bottlenecks everywhere."""
    blocks = st.sampled_from(BLOCK_NAMES)
    return BackboneConfig(
        preset=draw(st.none() | st.sampled_from(PRESET_NAMES)),
        width=draw(st.integers(2, 8)),
        stem_width=draw(rarely(st.integers(2, 8))),
        stage1_width=draw(st.integers(1, 4)),
        num_modules=draw(rarely(stage_ints(1, 2).map(lambda m: (1, *m[1:])))),
        num_blocks=draw(rarely(stage_ints(1, 2))),
        block=draw(rarely(st.tuples(blocks, blocks, blocks, blocks))),
        width_multipliers=draw(rarely(stage_ints(1, 6))),
        fuse_method=draw(st.sampled_from(FUSE_METHODS)),
        upsample_mode=draw(st.sampled_from(UPSAMPLE_MODES)),
        align_corners=draw(st.booleans()),
        norm=draw(st.sampled_from(NORM_NAMES)),
        grad_checkpointing=draw(st.booleans()),
    )


sizes = st.integers(16, 300)
batches = st.integers(1, 2)
num_classes = st.integers(1, 5)


def effective(config: BackboneConfig) -> dict[str, Any]:
    """The knobs the backbone is built with: constructor defaults, then the preset, then the overrides."""
    defaults = {k: p.default for k, p in inspect.signature(HRNet).parameters.items()}
    preset = preset_kwargs(config.preset) if config.preset is not None else {}
    return {**defaults, **preset, **config.knobs()}


def down(n: int, times: int) -> int:
    """Side length after `times` 3x3 stride-2 convs with padding 1: ceil(n / 2) each."""
    for _ in range(times):
        n = (n + 1) // 2
    return n


def branch_shapes(config: BackboneConfig, batch: int, h: int, w: int, count: int) -> list[tuple[int, ...]]:
    """The backbone's outputs: branch k at 1/(4 * 2^k), C * width_multipliers[k] * block expansion wide."""
    knobs = effective(config)
    expansion = BLOCKS[knobs["block"][3]].expansion
    widths = [knobs["width"] * m * expansion for m in knobs["width_multipliers"]]
    return [(batch, widths[k], down(h, 2 + k), down(w, 2 + k)) for k in range(count)]


def pooled(h: int, w: int, k: int) -> tuple[int, int]:
    """HRFPN's level of an h x w map: floor(side / k), the official, or ceil where a side is below k."""
    if min(h, w) < k:
        return -(-h // k), -(-w // k)
    return h // k, w // k


def run_and_backprop(model: nn.Module, x: torch.Tensor) -> tuple[Any, list[torch.Tensor]]:
    """Forward in training mode where BatchNorm can (more than one value per channel), backward on
    the sum of the outputs' means; returns the output and the backbone's branch outputs."""
    smallest = x.shape[0] * down(x.shape[2], 5) * down(x.shape[3], 5)
    model.train(smallest > 1)
    branches: list[torch.Tensor] = []
    hook = model.backbone.register_forward_hook(lambda _m, _i, out: branches.extend(out))
    out = model(x)
    hook.remove()
    outputs = out if isinstance(out, list) else [out]
    for o in [*outputs, *branches]:
        assert torch.isfinite(o).all()
    sum(o.mean() for o in outputs).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} is outside the graph"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
    return out, branches


def image(batch: int, h: int, w: int) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(batch, 3, h, w, requires_grad=True)


@fixed(max_examples=80)
@given(backbone_configs(), st.sampled_from(HEAD_NAMES), num_classes, batches, sizes, sizes)
def test_any_valid_network_runs_forward_and_backward(
    config: BackboneConfig, head: str, k: int, batch: int, h: int, w: int
) -> None:
    if head == "v2p":  # the pyramid alone (HRFPN, a detector's neck); segmentation reads its finest level
        backbone = config.build(head)
        resize = {"upsample_mode": backbone.upsample_mode, "align_corners": backbone.align_corners}
        pyramid = V2pHead(backbone.feature_info.channels(), **resize)
        model: nn.Module = HRNetModel(backbone, pyramid)
    else:
        model = network(head, k, config.preset, **config.knobs())
    out, branches = run_and_backprop(model, image(batch, h, w))
    num_inputs = 1 if head == "v1" else 4
    assert [b.shape for b in branches] == branch_shapes(config, batch, h, w, num_inputs)
    h4, w4 = down(h, 2), down(w, 2)
    if head == "v2p":  # average pools of kernel = stride = 2^k rounding down (up where a side < 2^k)
        expected = [(batch, 256, *pooled(h4, w4, 2**k)) for k in range(5)]
        assert [o.shape for o in out] == expected
    elif head == "cls":
        assert out.shape == (batch, k)
    else:
        assert out.shape == (batch, k, h4, w4)


@fixed(max_examples=40)
@given(backbone_configs(), st.sampled_from(SEG_HEADS), num_classes, batches, sizes, sizes)
def test_any_valid_segmenter_gives_logits_at_a_quarter_of_the_input(
    config: BackboneConfig, head: str, k: int, batch: int, h: int, w: int
) -> None:
    model = build_segmenter(config, head, k)
    out, branches = run_and_backprop(model, image(batch, h, w))
    assert [b.shape for b in branches] == branch_shapes(config, batch, h, w, 1 if head == "v1" else 4)
    assert out.shape == (batch, k, down(h, 2), down(w, 2))


# Invalid values per knob; each is drawn into an otherwise valid configuration.
not_positive = st.integers(-3, 0) | st.floats(0.5, 8.0) | st.booleans() | st.just("8")


def wrong_length(entries: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(entries, max_size=6).filter(lambda v: len(v) != 4).map(tuple)


def one_bad_entry(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Four entries, one of them (at a drawn position) invalid."""
    return st.tuples(st.lists(good, min_size=4, max_size=4), st.integers(0, 3), bad).map(
        lambda t: (*t[0][: t[1]], t[2], *t[0][t[1] + 1 :])
    )


def unknown(allowed: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Names outside `allowed` (typos, other case), and values that are not names at all."""
    return (
        st.text(max_size=10).filter(lambda s: s not in allowed)
        | st.sampled_from(allowed).map(str.upper)
        | st.sampled_from([None, 1, ("sum",), ["v2"]])
    )


stage_ints_bad = (
    wrong_length(st.integers(1, 3))
    | one_bad_entry(st.integers(1, 3), not_positive)
    | st.just("1111")
    | st.just(None)
)
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "width": not_positive | st.just(None),
    "stem_width": not_positive | st.just(None),
    "stage1_width": not_positive | st.just(None),
    "num_modules": stage_ints_bad | stage_ints(2, 4).map(lambda m: (m[0], 1, 1, 1)),
    "num_blocks": stage_ints_bad,
    "width_multipliers": stage_ints_bad,
    "block": wrong_length(st.sampled_from(BLOCK_NAMES))
    | one_bad_entry(st.sampled_from(BLOCK_NAMES), unknown(BLOCK_NAMES))
    | st.sampled_from(BLOCK_NAMES)
    | st.just(None),
    "fuse_method": unknown(FUSE_METHODS),
    "upsample_mode": unknown(UPSAMPLE_MODES),
    "norm": unknown(NORM_NAMES),
    "align_corners": st.sampled_from(["true", "false", 0, 1, None]),
    "grad_checkpointing": st.sampled_from(["true", "false", 0, 1, None]),
}


@st.composite
def invalid_knob(draw: st.DrawFn) -> tuple[str, Any]:
    knob = draw(st.sampled_from(sorted(INVALID)))
    return knob, draw(INVALID[knob])


def names(knob: str) -> str:
    return rf"\b{re.escape(knob)}="


@fixed(max_examples=300)
@given(backbone_configs(), invalid_knob(), st.sampled_from(["backbone", "segmenter"]))
def test_any_invalid_knob_fails_at_construction_naming_it(
    config: BackboneConfig, bad: tuple[str, Any], entry: str
) -> None:
    knob, value = bad
    assume(not (entry == "segmenter" and value is None))  # None on the record means "the preset's value"
    knobs = {**config.knobs(), knob: value}
    with pytest.raises(InputError, match=names(knob)):
        if entry == "backbone":
            HRNet(**knobs)
        else:
            build_segmenter(BackboneConfig(preset=config.preset, **knobs), "v2", 3)


bad_class_counts = st.integers(-3, 0) | st.floats(0.5, 8.0) | st.booleans() | st.just("19") | st.just(None)
tiny = BackboneConfig(preset="w18_small_v1", width=2, stage1_width=1, stem_width=2)


@fixed(max_examples=30)
@given(bad_class_counts, st.sampled_from(HEAD_NAMES), st.sampled_from(SEG_HEADS))
def test_invalid_class_counts_are_refused_by_every_head(k: Any, head: str, seg_head: str) -> None:
    output = network_module(HEAD_TASK[head]).OUTPUT_ARG  # a pose network's heatmaps are its joints
    with pytest.raises(InputError, match=names(output)):
        network(head, k, **tiny.knobs())
    with pytest.raises(InputError, match=names("num_classes")):
        build_segmenter(tiny, seg_head, k)


@fixed(max_examples=30)
@given(unknown(HEAD_NAMES), unknown(PRESET_NAMES).filter(lambda p: p is not None))
def test_unknown_head_and_preset_names_are_refused(head: Any, preset: Any) -> None:
    with pytest.raises(InputError, match=names("head")):
        network(head, 3, **tiny.knobs())
    with pytest.raises(InputError, match=names("head")):
        build_segmenter(tiny, head, 3)
    with pytest.raises(InputError, match=names("preset")):
        network("v2", 3, preset, **tiny.knobs())


def test_segmenter_refuses_the_classification_head() -> None:
    """HRNet-C ends in a global pool: no per-pixel logits to classify."""
    with pytest.raises(InputError, match="head='cls'.*v2p"):
        build_segmenter(tiny, "cls", 3)


def test_zero_classes_is_refused() -> None:
    with pytest.raises(InputError, match="num_classes=0 must be a positive integer"):
        network("v2", num_classes=0)
