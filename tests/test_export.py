"""ONNX export: dynamic batch and size, several outputs, the same numbers as PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from hrnet_lit.detection.detector import DetectorConfig
from hrnet_lit.detection.network import build_network as build_detector
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.tools.export import export_onnx


@pytest.mark.slow  # compiles / exports: CPU-seconds the unit lane cannot spare
def test_v2p_pyramid_round_trips_through_onnxruntime_at_an_odd_size(tmp_path: Path) -> None:
    torch.manual_seed(0)
    backbone = BackboneConfig(preset="w18_small_v1", width=4, num_blocks=(1, 1, 1, 1))
    detector = build_detector(backbone, "v2p", 5, DetectorConfig(fpn_channels=16))
    model, _ = detector.onnx_part()  # the HRNet and its V2p pyramid (HRFPN, five levels)
    model.train()
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


@pytest.mark.slow
def test_export_command_from_a_fit_checkpoint(tmp_path: Path, tiny_fit: list[str]) -> None:
    from hrnet_lit.cli import main

    main(["fit", *tiny_fit, "--model.head=v1", f"--trainer.logger.init_args.save_dir={tmp_path}"])
    (ckpt,) = tmp_path.glob("lightning_logs/*/checkpoints/last.ckpt")
    output = tmp_path / "seg.onnx"
    main(["export", f"--ckpt_path={ckpt}", f"--output={output}", "--input_size=[64,64]"])
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    x = torch.randint(0, 256, (1, 3, 97, 131), dtype=torch.uint8)
    logits, classes = session.run(None, {"image_uint8_rgb": x.numpy()})  # the whole model: the default
    assert logits.shape == (1, 5, 97, 131) and classes.shape == (1, 97, 131)

    network = tmp_path / "net.onnx"
    main(
        [
            "export",
            f"--ckpt_path={ckpt}",
            f"--output={network}",
            "--input_size=[64,64]",
            "--network_only=true",
        ]
    )
    session = onnxruntime.InferenceSession(str(network), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": torch.randn(1, 3, 97, 131).numpy()})
    assert got.shape == (1, 5, 25, 33)

    fresh = tmp_path / "fresh.onnx"
    main(
        [
            "export",
            "--config",
            "configs/quickstart.yaml",
            "--model.backbone.width=8",
            f"--output={fresh}",
            "--input_size=[64,64]",
        ]
    )
    assert fresh.is_file()
