"""Every fast path computes the plain model's function: channels_last, BN folding, compile, bf16."""

from __future__ import annotations

import pytest
import torch
from networks import network
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hrnet_lit.models import FUSE_METHODS, HEAD_NAMES, HRNetModel
from hrnet_lit.models.fast import fuse_for_inference

# Every structure (stage-1 projection, transitions, four-branch fusion) at the smallest size.
TINY = {"preset": "w18_small_v1", "width": 4, "num_blocks": (1, 1, 1, 1)}


def outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    out = model(x)
    return out if isinstance(out, list) else [out]


def with_running_stats(model: HRNetModel) -> HRNetModel:
    """Non-trivial BN statistics and affine parameters, so that folding them is really tested."""
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
    return model.eval()


CASES = [(head, "sum") for head in HEAD_NAMES] + [("v2", m) for m in FUSE_METHODS if m != "sum"]


@pytest.mark.parametrize(("head", "fuse_method"), CASES)
def test_channels_last_end_to_end(head: str, fuse_method: str) -> None:
    torch.manual_seed(0)
    model = with_running_stats(network(head, 5, fuse_method=fuse_method, **TINY))
    x = torch.randn(2, 3, 35, 41)
    with torch.no_grad():
        expected = outputs(model, x)
        model.to(memory_format=torch.channels_last)
        layouts = []
        hooks = [
            m.register_forward_pre_hook(lambda m, args: layouts.append(_is_channels_last(args[0])))
            for m in model.modules()
            if isinstance(m, nn.Conv2d)
        ]
        got = outputs(model, x.to(memory_format=torch.channels_last))
    for h in hooks:
        h.remove()
    assert layouts and all(layouts), f"{layouts.count(False)} convs were fed NCHW tensors"
    for e, g in zip(expected, got, strict=True):
        assert g.dim() == 2 or _is_channels_last(g)
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)


def _is_channels_last(t: torch.Tensor) -> bool:
    return t.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(("head", "fuse_method"), CASES)
def test_fuse_for_inference_folds_every_batch_norm(head: str, fuse_method: str) -> None:
    model = with_running_stats(network(head, 5, fuse_method=fuse_method, **TINY)).train()
    fused = fuse_for_inference(model)
    assert not fused.training
    assert not [n for n, m in fused.named_modules() if isinstance(m, _BatchNorm)]
    assert any(isinstance(m, _BatchNorm) for m in model.modules()) and model.training, "original changed"
    x = torch.randn(2, 3, 35, 41)
    with torch.no_grad():
        for e, g in zip(outputs(model.eval(), x), outputs(fused, x), strict=True):
            torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("norm", ["group", "sync_batch"])
def test_fuse_for_inference_leaves_group_norm_and_folds_sync_batch_norm(norm: str) -> None:
    model = with_running_stats(network("v2", 5, norm=norm, **TINY))
    fused = fuse_for_inference(model)
    left = [m for m in fused.modules() if isinstance(m, nn.GroupNorm | _BatchNorm)]
    assert bool(left) == (norm == "group")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.slow  # compiles / exports: CPU-seconds the unit lane cannot spare
def test_compiled_model_computes_the_same_function() -> None:
    """Inductor: one graph (no breaks), the same outputs."""
    torch.manual_seed(0)
    model = with_running_stats(network("v2", 3, **TINY))
    compiled = torch.compile(model, fullgraph=True)
    x = torch.randn(2, 3, 35, 41)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # compiles / exports: CPU-seconds the unit lane cannot spare
def test_compiled_training_step_gives_the_same_gradients() -> None:
    """Whole-graph capture under autograd with the in-place sums and ReLUs functionalised
    (the `aot_eager` backend: what inductor receives, without its C++ build time)."""
    torch.manual_seed(0)
    plain = network("v2", 3, **TINY)
    traced = network("v2", 3, **TINY)
    traced.load_state_dict(plain.state_dict())
    compiled = torch.compile(traced, fullgraph=True, backend="aot_eager")
    x = torch.randn(2, 3, 35, 41)
    plain(x).square().mean().backward()
    compiled(x).square().mean().backward()
    for (name, a), b in zip(plain.named_parameters(), traced.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_bf16_autocast_stays_close_to_fp32() -> None:
    model = with_running_stats(network("v2", 5, **TINY))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = model(x)
    assert got.dtype == torch.bfloat16
    error = (got.float() - expected).norm() / expected.norm()
    assert error < 0.05
