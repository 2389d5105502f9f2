"""ONNX export: dynamic batch and size, several outputs, the same numbers as PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import torch

from hrnet_lit.export import export_onnx
from hrnet_lit.models import build_model


def test_v2p_pyramid_round_trips_through_onnxruntime_at_an_odd_size(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("v2p", 5, "w18_small_v1", width=4, num_blocks=(1, 1, 1, 1)).train()
    path = export_onnx(model, tmp_path / "out" / "hrnet.onnx", input_size=(64, 64))
    assert model.training, "the caller's mode is restored"
    assert [p.name for p in path.parent.iterdir()] == ["hrnet.onnx"], "no temporary file left"

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == [f"output{k}" for k in range(5)]
    x = torch.randn(3, 3, 97, 131)
    with torch.no_grad():
        expected = model.eval()(x)
    got = session.run(None, {"image": x.numpy()})
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e.numpy(), rtol=1e-4, atol=1e-4)
