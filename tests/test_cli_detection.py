"""Detection through the real entry point: fit, validate, test and predict from the quickstart config
at tiny sizes; summary and export of the same config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import DETECTION_FIT as TINY
from helpers import logged, metric_rows
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD
from hrnet_lit.detection.detector import DensePart

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = "configs/detection/quickstart.yaml"
LOSSES = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")
MAPS = ("mAP", "mAP50", "mAP75", "mAP_small", "mAP_medium", "mAP_large")


@pytest.mark.slow
def test_fit_validate_test_predict_from_the_quickstart_config(tmp_path: Path) -> None:
    run = [f"--config={QUICKSTART}", *TINY, f"--trainer.logger.init_args.save_dir={tmp_path}"]
    main(["fit", *run])
    (folder,) = tmp_path.glob("detection_quickstart/version_*")
    table = metric_rows(folder)
    for name in LOSSES:
        values = logged(table, f"train/{name}")
        assert len(values) == 2 and all(math.isfinite(v) for v in values), name
    total = [r for r in table if r.get("train/loss")]
    for r in total:  # the logged total is the sum of the detector's losses
        assert float(r["train/loss"]) == pytest.approx(sum(float(r[f"train/{n}"]) for n in LOSSES), rel=1e-5)
    for name in MAPS:
        (value,) = logged(table, f"val/{name}")
        assert value == -1.0 or 0.0 <= value <= 1.0, name
    assert {f"val/AP/{c}" for c in ("disc", "rectangle", "triangle")} & set(table[0])
    (ckpt,) = folder.glob("checkpoints/last.ckpt")

    main(["validate", *run, f"--ckpt_path={ckpt}"])
    main(["test", *run, f"--ckpt_path={ckpt}"])
    assert (
        0.0 <= logged(metric_rows(tmp_path / "detection_quickstart/test/version_0"), "test/mAP50")[0] <= 1.0
    )

    images = tmp_path / "to_predict"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("a.png", (64, 80)), ("b.jpg", (48, 64))):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(images / name)
    out = tmp_path / "predictions"
    main(
        [
            "predict",
            *run,
            f"--ckpt_path={ckpt}",
            f"--data.predict_dir={images}",
            f"--predict_writer.output_dir={out}",
            "--model.draw_score_thresh=0.0",
        ]
    )
    with Image.open(out / "a.png") as drawn:
        assert drawn.size == (80, 64), "boxes are drawn on the image at its own size"
    with Image.open(out / "b.png") as drawn:
        assert drawn.size == (64, 48)
    results = json.loads((out / "detections.json").read_text())
    assert {r["file_name"] for r in results} <= {"a.png", "b.jpg"}
    for r in results:
        assert set(r) == {"image_id", "file_name", "category_id", "bbox", "score"}
        assert r["category_id"] in (1, 2, 3) and 0.05 <= r["score"] <= 1.0
        x, y, w, h = r["bbox"]
        assert w >= 0 and h >= 0 and x >= 0 and y >= 0
    ids = {r["file_name"]: r["image_id"] for r in results}
    assert len(set(ids.values())) == len(ids), "one image id per image"


@pytest.mark.slow
def test_summary_and_export_of_a_detection_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def summary(proposals: int) -> dict:
        flags = [f"--model.detector.rpn_post_nms_top_n_test={proposals}", "--json=true"]
        main(["summary", f"--config={QUICKSTART}", *TINY, *flags])
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    row = summary(100)
    assert row["task"] == "DetectionTask" and row["head"] == "v2p" and row["detector"]["fpn_channels"] == 16
    assert row["params"] > 0 and row["input_size"] == [64, 64]
    # The cost counts the box head on every proposal a test image keeps: per RoI, fc6 (16 x 7 x 7 -> 32),
    # fc7 (32 -> 32), class scores (32 -> 4) and boxes (32 -> 16).
    per_roi = 16 * 49 * 32 + 32 * 32 + 32 * 4 + 32 * 16
    assert summary(200)["macs"] - row["macs"] == 100 * per_roi

    # ONNX takes the dense part (tested on the real exporter for a V2p pyramid in test_export.py; a
    # detector's export costs minutes here, so the exporter is stood in for).
    exported: list[tuple[torch.nn.Module, tuple[int, int]]] = []

    def export_onnx(model: torch.nn.Module, output: str, input_size: tuple[int, int], opset: object) -> str:
        exported.append((model, input_size))
        return output

    monkeypatch.setattr("hrnet_lit.tools.export.export_onnx", export_onnx)
    main(
        [
            "export",
            f"--config={QUICKSTART}",
            *TINY,
            f"--output={tmp_path / 'd.onnx'}",
            "--network_only=true",
            "--input_size=[64,64]",
        ]
    )
    assert "ONNX export of a Faster R-CNN covers its dense part" in capsys.readouterr().err
    ((part, size),) = exported
    assert isinstance(part, DensePart) and size == (64, 64)
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        levels = part.eval()(image)
        expected = part.pyramid(
            (image - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        )
    assert [tuple(f.shape[-2:]) for f in levels] == [
        (16, 24),
        (8, 12),
        (4, 6),
        (2, 3),
        (1, 1),
    ]  # strides 4 ... 64, pooled rounding down as the official HRFPN
    for got, want in zip(levels, expected.values(), strict=True):
        torch.testing.assert_close(got, want)
